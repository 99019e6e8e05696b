"""Importing GLEE's game logs: outcomes, paper-definition metrics, cells, skips, load and report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.store.importer import import_games, index_name
from sim.store.runs import load, read_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "glee"
runner = CliRunner()
INDEX = index_name("glee")


def import_glee(source_dir: Path, out_dir: Path) -> Path:
    return import_games("glee", source_dir, out_dir)


DEAL_R3, EVEN_SPLIT, NO_DEAL = "1A2B3C4D5E6F7081", "1A2B3C4D5E6F7082", "2B3C4D5E6F708192"
TRADE, BUY_FROM_JHON, SELL_TO_JHON = "4D5E6F7081920314", "5E6F708192031425", "5E6F708192031426"
BINARY, MYOPIC_TEXT, TRUNCATED = "6F70819203142536", "708192031425364A", "3C4D5E6F70819203"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_glee(FIXTURES, tmp_path_factory.mktemp("glee") / "run")


@pytest.fixture(scope="module")
def tables(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    episodes, steps = load(run_dir)
    index = pd.read_csv(run_dir / INDEX, dtype=str)
    return episodes.merge(index[["episode_id", "game_id"]], on="episode_id"), steps


def game(tables, game_id: str) -> pd.Series:
    episodes, _ = tables
    rows = episodes[episodes["game_id"] == game_id]
    assert len(rows) == 1, game_id
    return rows.iloc[0]


def game_steps(tables, game_id: str) -> pd.DataFrame:
    _, steps = tables
    episode_id = game(tables, game_id)["episode_id"]
    return steps[steps["episode_id"] == episode_id].reset_index(drop=True)


def test_every_complete_game_becomes_one_episode(tables):
    episodes, _ = tables
    assert len(episodes) == 8
    assert episodes["env_id"].value_counts().to_dict() == {
        "mercato/Bargaining-v0": 3,
        "mercato/Negotiation-v0": 3,
        "mercato/Persuasion-v0": 2,
    }
    assert TRUNCATED not in set(episodes["game_id"])
    assert episodes["episode_id"].is_unique
    assert episodes["seed"].isna().all()


def test_cells_are_distinct_configurations_with_stable_sorted_ids(tables, tmp_path):
    episodes, _ = tables
    assert sorted(episodes["cell_id"].unique()) == [f"c00{i}" for i in range(6)]
    same = episodes[episodes["game_id"].isin([DEAL_R3, EVEN_SPLIT])]
    assert same["cell_id"].nunique() == 1 and sorted(same["episode_index"]) == [0, 1]
    outside = episodes[episodes["game_id"].isin([BUY_FROM_JHON, SELL_TO_JHON])]
    assert outside["cell_id"].nunique() == 1
    again, _ = load(import_glee(FIXTURES, tmp_path / "again"))
    assert list(again["episode_id"]) == list(episodes["episode_id"])
    assert list(again["cell_id"]) == list(episodes["cell_id"])


def test_bargaining_deal_in_round_three(tables):
    row = game(tables, DEAL_R3)
    assert row["param_money"] == 10_000.0 and row["param_horizon"] == 99
    assert row["param_discount_alice"] == 0.9 and row["param_discount_bob"] == 0.8
    assert row["param_complete_information"] and row["param_messages"]
    assert json.loads(row["roster"]) == {
        "alice_0": "litellm:gpt-4o",
        "bob_0": "litellm:gemini-1.5-flash",
    }
    p = 0.6  # "$6,000" of 10,000, accepted in round 3
    gain_alice, gain_bob = 0.9**2 * p, 0.8**2 * (1 - p)
    spe = (1 - 0.8) / (1 - 0.9 * 0.8)  # unannounced horizon (99): Rubinstein
    assert row["metric_deal"] == 1 and row["metric_round"] == 3
    assert row["metric_alice_share"] == pytest.approx(p)
    assert row["metric_self_gain_alice"] == pytest.approx(gain_alice)
    assert row["metric_self_gain_bob"] == pytest.approx(gain_bob)
    assert row["metric_efficiency"] == pytest.approx(gain_alice + gain_bob)
    assert row["metric_fairness"] == pytest.approx(1 - 4 * (p - 0.5) ** 2)
    assert row["metric_spe_alice_share"] == pytest.approx(spe)
    assert row["metric_regret_alice_share"] == pytest.approx(abs(p - spe))
    assert row["return_alice_0"] == pytest.approx(10_000 * gain_alice)
    assert row["return_bob_0"] == pytest.approx(10_000 * gain_bob)
    assert pd.isna(row["return_seller_0"]) and row["steps"] == 6


def test_bargaining_even_split_in_round_one(tables):
    row = game(tables, EVEN_SPLIT)
    assert row["metric_efficiency"] == pytest.approx(1.0)
    assert row["metric_fairness"] == pytest.approx(1.0)
    assert row["return_alice_0"] == pytest.approx(5_000.0)


def test_bargaining_without_deal_uses_the_papers_values(tables):
    row = game(tables, NO_DEAL)
    assert row["param_horizon"] == 2 and not row["param_complete_information"]
    assert json.loads(row["roster"]) == {"alice_0": "otree", "bob_0": "otree_LLM"}
    assert row["metric_deal"] == 0 and row["metric_round"] == 2
    assert row["metric_fairness"] == 1.0 and row["metric_efficiency"] == 0.0
    assert row["metric_self_gain_alice"] == 0.0 and row["metric_self_gain_bob"] == 0.0
    assert pd.isna(row["metric_alice_share"]) and pd.isna(row["metric_regret_alice_share"])
    assert row["metric_spe_alice_share"] == pytest.approx(1 - 0.9)  # announced T = 2
    assert row["return_alice_0"] == 0.0 and row["return_bob_0"] == 0.0


def test_negotiation_trade(tables):
    row = game(tables, TRADE)
    assert row["param_money"] == 10_000.0 and row["param_horizon"] == 10
    assert row["param_seller_value_factor"] == 1.0 and row["param_buyer_value_factor"] == 1.2
    seller_value, buyer_value, price = 10_000.0, 12_000.0, 10_500.0  # "$10,500" in round 2
    assert row["metric_trade"] == 1 and row["metric_outside_option"] == 0
    assert row["metric_round"] == 2 and row["metric_price"] == price
    assert row["metric_self_gain_seller"] == pytest.approx((price - seller_value) / 10_000)
    assert row["metric_self_gain_buyer"] == pytest.approx((buyer_value - price) / 10_000)
    assert row["metric_efficiency"] == 1.0
    midpoint = (seller_value + buyer_value) / 2
    assert row["metric_fairness"] == pytest.approx(1 - 4 * ((price - midpoint) / 10_000) ** 2)
    assert row["metric_spe_price"] == seller_value  # CI, T = 10 known: the buyer proposes last
    assert row["metric_regret_price"] == pytest.approx(0.05)
    assert row["return_seller_0"] == pytest.approx(500.0)
    assert row["return_buyer_0"] == pytest.approx(1_500.0)


@pytest.mark.parametrize(("game_id", "round_"), [(BUY_FROM_JHON, 1), (SELL_TO_JHON, 2)])
def test_negotiation_outside_option(tables, game_id, round_):
    row = game(tables, game_id)
    assert row["param_horizon"] == 30 and not row["param_messages"]
    assert row["metric_trade"] == 0 and row["metric_outside_option"] == 1
    assert row["metric_round"] == round_ and pd.isna(row["metric_price"])
    assert row["metric_self_gain_seller"] == 0.0 and row["metric_self_gain_buyer"] == 0.0
    assert row["metric_efficiency"] == 1.0  # V_A = 12,000 >= V_B = 10,000 and no trade
    assert row["metric_fairness"] == 1.0
    assert pd.isna(row["metric_spe_price"])  # incomplete information
    last = game_steps(tables, game_id).iloc[-1]
    assert json.loads(last["action"]) == {"decision": 3}
    assert json.loads(last["info"])["glee_decision"] in {"BuyFromJhon", "SellToJhon"}


def test_persuasion_binary_long_lived(tables):
    row = game(tables, BINARY)
    assert row["param_p_high"] == 0.5 and row["param_value_high"] == 2.0
    assert row["param_value_low"] == 0.0 and row["param_rounds"] == 4
    assert row["param_message_type"] == "binary" and row["param_buyer_memory"] == "long"
    assert row["param_complete_information"] and row["param_money"] == 100.0
    # T = 4: high/buy, low/buy, low/pass, high/pass -> n = 2, k = 1, r = 1, 2 sales
    t, n, k, r, v = 4, 2, 1, 1, 2.0
    assert row["metric_sales"] == 2 and row["metric_high_rounds"] == n
    assert row["metric_sale_rate"] == pytest.approx(0.5)
    assert row["metric_self_gain_seller"] == pytest.approx(0.5)
    assert row["metric_self_gain_buyer"] == pytest.approx((k * (v - 1) + (t - n - r) * -1) / t)
    assert row["metric_efficiency"] == pytest.approx(k / n)
    assert row["metric_fairness"] == pytest.approx(r / (t - n))
    assert row["metric_commitment_sale_rate"] == pytest.approx(1.0)  # min(1, pv)
    assert row["metric_regret_sale_rate"] == pytest.approx(0.5)
    assert row["return_seller_0"] == pytest.approx(200.0)
    assert row["return_buyer_0"] == pytest.approx(0.0)
    steps = game_steps(tables, BINARY)
    assert list(steps["agent"]) == ["seller_0", "buyer_0"] * 4  # Nature rows are not steps
    qualities = [json.loads(info)["quality_high"] for info in steps["info"]]
    assert qualities == [1, 1, 0, 0, 0, 0, 1, 1]  # joined from each round's Nature row
    assert json.loads(steps["action"][6]) == {"recommend": 1, "message": ""}
    assert json.loads(steps["action"][7]) == {"decision": 0, "message": ""}


def test_persuasion_text_myopic(tables):
    row = game(tables, MYOPIC_TEXT)
    assert row["param_message_type"] == "text" and row["param_buyer_memory"] == "myopic"
    assert not row["param_complete_information"]
    assert row["metric_efficiency"] == 1.0 and row["metric_fairness"] == 0.0
    assert row["metric_self_gain_buyer"] == pytest.approx((0.25 - 1) / 2)
    assert row["return_buyer_0"] == pytest.approx(10_000 * (0.25 - 1))
    steps = game_steps(tables, MYOPIC_TEXT)
    assert list(steps["agent"]) == ["seller_0", "buyer_0"] * 2  # "the buyer" is buyer_0
    assert steps["message"][0] == "A great product, buy it!"


def test_steps_have_one_row_per_action_row(tables):
    episodes, steps = tables
    assert len(steps) == int(episodes["steps"].sum()) == 6 + 2 + 4 + 4 + 2 + 4 + 8 + 4
    assert steps["parse_status"].isna().all() and steps["prompt"].isna().all()
    assert set(steps["role"]) == {"alice", "bob", "seller", "buyer"}
    deal = game_steps(tables, DEAL_R3)
    assert list(deal["agent"]) == ["alice_0", "bob_0", "bob_0", "alice_0", "alice_0", "bob_0"]
    assert json.loads(deal["action"][4]) == {"decision": 0, "alice_share": pytest.approx(0.6)}
    assert deal["message"][4] == "Final offer: 60/40." and pd.isna(deal["message"][5])
    assert list(deal["policy"][:2]) == ["litellm:gpt-4o", "litellm:gemini-1.5-flash"]


def test_manifest_marks_source_status_and_skips(run_dir):
    manifest = read_manifest(run_dir).to_json()
    assert manifest["source"] == "glee"
    assert manifest["source_path"] == str(FIXTURES)
    assert manifest["status"] == "complete"
    assert manifest["games"] == {"found": 9, "imported": 8, "skipped": 1}
    assert manifest["plan"] == {"cells": 6, "episodes": 8, "shards": 1}
    skipped = manifest["skipped"]
    assert skipped["count"] == 1 and skipped["kinds"] == {"truncated": 1}
    assert skipped["games"][0]["game"].endswith(TRUNCATED)
    assert {cell["cell_id"] for cell in manifest["cells"]} == {f"c00{i}" for i in range(6)}


def write_game(root: Path, name: str, config: object, csv_text: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    (folder / "game.csv").write_text(csv_text)


def test_bad_games_are_skipped_with_reasons(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / "bargaining", source / "bargaining")
    deal = json.loads((FIXTURES / "bargaining/1/A/2" / DEAL_R3 / "config.json").read_text())
    persuasion = json.loads((FIXTURES / "persuasion/6/F/7" / BINARY / "config.json").read_text())
    header = "alice_gain,bob_gain,message,player,round,decision\n"
    write_game(source, "bad_json", "{not json", header)
    write_game(source, "bad_type", {**deal, "game_type": "auction"}, header)
    write_game(source, "open_quote", deal, header + '7000.0,3000.0,"Hi there,Alice,1,None\n')
    write_game(source, "empty_csv", deal, "")
    write_game(source, "no_money", {**deal, "game_args": {"max_rounds": 99}}, header)
    write_game(
        source,
        "half_persuasion",
        persuasion,
        "round_quality,product_worth,player,round,message,decision\n"
        "high-quality,200.0,Nature,1,,\n,,Alice,1,,yes\n,,Bob,1,,yes\n"
        "low-quality,0.0,Nature,2,,\n,,Alice,2,,no\n",
    )
    (source / "config_only").mkdir()
    (source / "config_only" / "config.json").write_text(json.dumps(deal))
    run_dir = import_glee(source, tmp_path / "run")
    manifest = read_manifest(run_dir).to_json()
    reasons = {Path(s["game"]).name: s["kind"] for s in manifest["skipped"]["games"]}
    assert reasons == {
        TRUNCATED: "truncated",
        "bad_json": "unreadable",
        "bad_type": "unsupported",
        "open_quote": "unreadable",
        "empty_csv": "truncated",
        "no_money": "unreadable",
        "half_persuasion": "truncated",
    }
    assert manifest["games"] == {"found": 10, "imported": 3, "skipped": 7}
    assert len(load(run_dir)[0]) == 3


def test_report_accepts_the_imported_run(run_dir):
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    report = pd.read_csv(run_dir / "report.csv")
    fairness = report[report["metric"] == "fairness"].dropna(subset=["mean"])
    assert set(fairness["cell_id"]) == {f"c00{i}" for i in range(6)}


def test_cli_imports_and_refuses_bad_paths(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["import-glee", str(FIXTURES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 8 of 9" in result.output and "skipped 1" in result.output
    assert read_manifest(out).to_json()["status"] == "complete"

    again = runner.invoke(app, ["import-glee", str(FIXTURES), "--out", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output
    fresh = runner.invoke(app, ["import-glee", str(FIXTURES), "--out", str(out), "--fresh"])
    assert fresh.exit_code == 0, fresh.output

    missing = runner.invoke(app, ["import-glee", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 2
    lines = missing.output.strip().splitlines()
    assert lines == [f"error: {tmp_path / 'nope'}: no such directory"]
