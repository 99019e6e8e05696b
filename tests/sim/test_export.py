"""`mercato export` to TRL formats: rows, Hugging Face layout and card, refusals, the CLI."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset
from trl.data_utils import is_conversational, maybe_extract_prompt
from typer.testing import CliRunner

from envs.games.bargaining_rules import OFFER
from sim.cli import app
from sim.export import ExportError, dpo_pairs, export_run, kto_rows, load_run, sft_rows
from sim.export.formats import median_cut
from sim.export.scripted import ScriptedRenderer
from sim.store.runs import load
from tests.sim.export_runs import bargaining, mixed, play

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "bargaining": play(bargaining(), root / "bargaining"),
        "mixed": play(mixed(), root / "mixed"),
        "same-reply": play(
            bargaining(
                name="bargain-same",
                models={"fakey": {"backend": "fake", "responses": ["OFFER 5000 5000"]}},
                episodes=3,
            ),
            root / "same",
        ),
    }


def read_rows(out: Path) -> list[dict]:
    dataset = load_dataset("parquet", data_files=str(out / "data" / "train-*.parquet"))["train"]
    return list(dataset)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(ExportError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- SFT ---


def test_sft_rows_are_the_parsed_llm_replies_round_tripped_through_parquet(runs, tmp_path):
    result = export_run(runs["bargaining"], "sft", tmp_path / "sft")
    assert result.rows == len(read_rows(tmp_path / "sft"))
    _, steps = load(runs["bargaining"])
    from_reply = steps[steps["parse_status"].isin(["parsed", "reasked"])]
    assert result.rows == len(from_reply) > 0
    dataset = load_dataset("parquet", data_dir=str(tmp_path / "sft" / "data"))["train"]
    assert dataset.features["prompt"].feature["role"].dtype == "string"
    schema = pq.read_schema(tmp_path / "sft" / "data" / "train-00000-of-00001.parquet")
    message = schema.field("completion").type
    assert pa.types.is_list(message) and pa.types.is_struct(message.value_type)
    assert {f.name for f in message.value_type} == {"role", "content"}
    assert b"huggingface" in schema.metadata
    rows = list(dataset)
    for row, (_, step) in zip(rows, from_reply.iterrows(), strict=True):
        assert is_conversational(row)
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"] == json.loads(step["prompt"])
        assert row["completion"] == [
            {"role": "assistant", "content": json.loads(step["reply"])[-1]}
        ]
        assert (row["agent"], row["source"], row["parse_status"]) == (
            "alice_0",
            "llm",
            step["parse_status"],
        )
    assert {"parsed", "reasked"} <= {row["parse_status"] for row in rows}


def test_sft_keeps_the_better_episodes_by_return(runs):
    rows = sft_rows(runs["bargaining"])
    returns = sorted({row["episode_return"] for row in rows})
    assert len(returns) > 1
    best = sft_rows(runs["bargaining"], min_return=returns[-1])
    assert best and all(row["episode_return"] == returns[-1] for row in best)
    top = sft_rows(runs["bargaining"], top_fraction=0.5)
    by_episode = {row["episode_id"]: row["episode_return"] for row in rows}
    cut = sorted(by_episode.values(), reverse=True)[len(by_episode) // 2 - 1]
    assert {row["episode_id"] for row in top} == {e for e, r in by_episode.items() if r >= cut}
    message = error_of(sft_rows, runs["bargaining"], min_return=returns[-1] + 1)
    assert "best episode return" in message


def test_scripted_decisions_are_prompted_like_the_llm_player_and_answered_by_describe(runs):
    rows = sft_rows(runs["mixed"], include_scripted=True, roles=["bob"])
    scripted = [r for r in rows if r["source"] == "scripted"]
    llm = [r for r in rows if r["source"] == "llm"]
    assert scripted and llm and all(r["parse_status"] is None for r in scripted)
    # the same state (round 1, the equilibrium offer) seen by the LLM Bob and the scripted Bob
    first = lambda rs, cell: next(r for r in rs if r["episode_id"] == f"{cell}-e00000")  # noqa: E731
    assert first(scripted, "c000")["prompt"] == first(llm, "c001")["prompt"]
    run = load_run(runs["mixed"])
    renderer = ScriptedRenderer(run)
    env = renderer._env("c000")
    for d in (d for d in run.decisions if not d.is_llm):
        text = renderer.text(d)
        observation = json.loads(d.observation)
        observation = {
            k: np.asarray(v) if isinstance(v, list) else v for k, v in observation.items()
        }
        parsed = env.unwrapped.protocol.parse(text.completion, observation, d.agent)
        stored = json.loads(d.action)
        if observation["decision_mask"][OFFER]:
            assert parsed["alice_share"][0] == pytest.approx(stored["alice_share"][0])
        else:
            assert parsed["decision"] == stored["decision"]


# --- DPO and KTO ---


def test_dpo_pairs_prefer_the_reply_with_the_better_outcome(runs, tmp_path):
    result = export_run(runs["bargaining"], "dpo", tmp_path / "dpo")
    rows = read_rows(tmp_path / "dpo")
    assert result.rows == len(rows) > 0
    for row in rows:
        assert is_conversational(row)
        assert maybe_extract_prompt(row) == row
        assert row["chosen"] != row["rejected"]
        assert [m["role"] for m in row["chosen"] + row["rejected"]] == ["assistant", "assistant"]
        assert row["chosen_outcome"] > row["rejected_outcome"]
        assert row["margin"] == pytest.approx(row["chosen_outcome"] - row["rejected_outcome"])
        assert (row["source"], row["rank_by"]) == ("same-state", "return")
    # outcomes are the mean returns of the episodes whose decision at that prompt gave the reply
    episodes, steps = load(runs["bargaining"])
    returns = dict(zip(episodes["episode_id"], episodes["return_alice_0"], strict=True))
    answered = steps[steps["parse_status"].isin(["parsed", "reasked"])]
    for row in rows:
        same = answered[[json.loads(p) == row["prompt"] for p in answered["prompt"]]]
        for side in ("chosen", "rejected"):
            reply = row[side][0]["content"]
            gave = same[same["reply"].map(lambda r: json.loads(r)[-1]) == reply]
            assert len(gave) == row[f"{side}_count"]
            outcome = statistics.fmean(returns[e] for e in gave["episode_id"])
            assert row[f"{side}_outcome"] == pytest.approx(outcome)
    everything = dpo_pairs(runs["bargaining"], pairs="all")
    assert len(everything) >= len(rows)


def test_kto_labels_are_bools_against_the_role_median(runs, tmp_path):
    export_run(runs["bargaining"], "kto", tmp_path / "kto")
    dataset = load_dataset("parquet", data_dir=str(tmp_path / "kto" / "data"))["train"]
    assert dataset.features["label"].dtype == "bool"
    rows = list(dataset)
    outcomes = [row["outcome"] for row in rows]
    # most episodes end with 0 for Alice: the median is 0, so the cut is the next outcome up
    assert statistics.median(outcomes) == 0.0
    assert {row["threshold"] for row in rows} == {max(outcomes)}
    assert all(row["label"] is (row["outcome"] >= row["threshold"]) for row in rows)
    assert {True, False} == {row["label"] for row in rows}
    assert all(is_conversational(row) for row in rows)
    fixed = kto_rows(runs["bargaining"], threshold=500.0)
    assert all(row["label"] is (row["outcome"] >= 500.0) for row in fixed)


def test_card_has_the_configs_the_source_run_and_the_experiment(runs, tmp_path):
    export_run(runs["bargaining"], "dpo", tmp_path / "dpo", pairs="all")
    card = (tmp_path / "dpo" / "README.md").read_text(encoding="utf-8")
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
    ]
    manifest = json.loads((runs["bargaining"] / "manifest.json").read_text())
    for text in (manifest["run_id"], "name: bargain-export", "git_commit", "ranked by"):
        assert text in body
    assert "all pairs" in body


# --- refusals ---


def test_a_run_without_llm_decisions_says_what_to_do_instead(runs):
    message = error_of(sft_rows, runs["mixed"], cells=["c000"])
    assert message.startswith("run bargain-mixed-")
    assert "has no LLM decisions for cells=['c000'] to export as sft" in message
    assert "--scripted" in message and "--format minari --agent NAME" in message
    assert "export as kto" in error_of(kto_rows, runs["mixed"], cells=["c000"])


def test_dpo_without_repeated_states_explains_what_pairs_need(runs):
    message = error_of(dpo_pairs, runs["same-reply"])
    assert "has no DPO pairs" in message and "temperature > 0" in message


def test_unknown_names_list_the_allowed_ones(runs, tmp_path):
    run = runs["bargaining"]
    assert "allowed: ['sft', 'dpo', 'kto', 'minari']" in error_of(export_run, run, "csv", tmp_path)
    assert "this run has ['alice_0', 'bob_0']" in error_of(sft_rows, run, agents=["carol_0"])
    assert "this run has ['alice', 'bob']" in error_of(sft_rows, run, roles=["carol"])
    assert "allowed: ['return'] or an episode metric ['metric_" in error_of(
        dpo_pairs, run, rank_by="luck"
    )
    assert "allowed: ['best-worst', 'all']" in error_of(dpo_pairs, run, pairs="some")
    message = error_of(export_run, run, "dpo", tmp_path / "x", min_return=1.0)
    assert "['min_return'] do not apply to dpo" in message
    assert "not a run directory" in error_of(export_run, tmp_path, "sft", tmp_path / "y")


def test_existing_output_is_refused_unless_overwrite_and_a_run_dir_never(runs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    message = error_of(export_run, runs["bargaining"], "sft", out)
    assert "--overwrite" in message
    assert (out / "keep.txt").exists()
    export_run(runs["bargaining"], "sft", out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data"]
    assert "is a run directory" in error_of(
        export_run, runs["bargaining"], "sft", runs["mixed"], overwrite=True
    )
    assert "holds the run" in error_of(
        export_run, runs["bargaining"], "sft", runs["bargaining"].parent, overwrite=True
    )


def test_a_failed_write_leaves_nothing_behind(runs, tmp_path, monkeypatch):
    import datasets

    def broken(self, path, **kwargs):
        Path(path).write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(datasets.Dataset, "to_parquet", broken)
    with pytest.raises(OSError):
        export_run(runs["bargaining"], "sft", tmp_path / "sft")
    assert list(tmp_path.iterdir()) == []


# --- CLI ---


def test_cli_writes_and_prints_one_summary_line(runs, tmp_path):
    out = tmp_path / "sft"
    result = runner.invoke(
        app, ["export", str(runs["mixed"]), "--format", "sft", "--out", str(out), "--scripted",
              "--role", "bob", "--top-fraction", "0.5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {len(read_rows(out))} sft row(s) to {out}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--format", "sft", "--cell", "c000"], "has no LLM decisions"),
        (["--format", "parquet"], "allowed: ['sft', 'dpo', 'kto', 'minari']"),
        (["--format", "minari"], "minari datasets are single-agent; pass --agent one of"),
        (["--format", "minari", "--agent", "alice_0", "--agent", "bob_0"], "pass one --agent"),
        (["--format", "sft", "--agent", "eve_0"], "unknown agent(s) ['eve_0']"),
    ],
)
def test_cli_errors_are_one_line_with_a_nonzero_exit_and_no_output_left(
    runs, tmp_path, args, expected
):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", str(runs["mixed"]), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("outcomes", "cut"),
    [([0, 0, 0, 5], 5), ([0, 5, 5, 5], 5), ([1, 2, 3, 4], 2.5), ([1, 2, 3], 2), ([3, 3], 3)],
)
def test_the_median_cut_puts_ties_on_the_smaller_side(outcomes, cut):
    assert median_cut(outcomes) == cut
