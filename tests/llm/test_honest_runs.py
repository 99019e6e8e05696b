"""Honest runs against an OpenAI-compatible server on 127.0.0.1: a dead endpoint fails the
preflight and writes nothing; a model that answers garbage ends the run `failed` and a re-run
after the fix resumes; costs and tokens add up; two Ray workers share one endpoint limit."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sim.cli import EXIT_RUN_FAILED, app
from sim.engine.batch import run
from sim.engine.fallbacks import FallbackRateError
from sim.llm.preflight import PreflightError
from sim.store.runs import load, read_manifest

runner = CliRunner()


def experiment(base_url: str, **changes):
    data = {
        "name": "honest",
        "imports": ["tests.envs_fixtures.registered"],
        "env": "mercato/TestUltimatum-v0",
        "models": {
            "remote": {
                "backend": "openai",
                "model": "fake-model",
                "base_url": base_url,
                "timeout_s": 2.0,
                "max_retries": 1,
                "backoff_s": 0.01,
                "structured": "off",
            }
        },
        "roster": {
            "proposer": "random",
            "responder": {"policy": "llm", "model": "remote", "options": {"max_reasks": 0}},
        },
        "episodes": 4,
        "shard_size": 2,
        "lockstep": 2,
    }
    data.update(changes)
    return data


def always(server, step: str) -> None:
    with server.lock:
        server.script[:] = [step] * 10_000


def test_a_dead_endpoint_fails_the_preflight_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    spec = experiment("http://127.0.0.1:9/v1")
    path = tmp_path / "dead.yaml"
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["run", str(path), "--workers", "0", "--out", str(out)])
    assert result.exit_code == 2
    assert "model remote (openai fake-model at http://127.0.0.1:9/v1)" in result.output
    assert "preflight" in result.output
    assert not out.exists()
    with pytest.raises(PreflightError, match="model remote"):
        run(spec, workers=0, out=out)
    assert not out.exists()


def test_garbage_answers_end_the_run_failed_and_a_fixed_rerun_resumes(server, tmp_path):
    out = tmp_path / "run"
    spec = experiment(server.base_url, episodes=40, shard_size=4)
    always(server, "say:no idea, sorry")  # the preflight only needs an answer
    with pytest.raises(FallbackRateError, match=r"model remote: 100% of \d+ LLM decisions"):
        run(spec, workers=0, out=out)
    manifest = read_manifest(out).to_json()
    assert manifest["status"] == "failed" and "max_fallback_rate 0.5" in manifest["failure"]
    assert manifest["llm"]["remote"]["fallback_rate"] == 1.0
    played = len(load(out)[0])
    assert 20 <= played < 40  # it stopped early: no shard is started once the share is known bad
    assert manifest["replay_shards"]  # the garbage shards stay on disk, marked for replay

    always(server, "say:ACCEPT")
    path = run(spec, workers=0, out=out)
    manifest = read_manifest(path).to_json()
    assert manifest["status"] == "complete" and not manifest.get("replay_shards")
    episodes, steps = load(path)
    assert len(episodes) == 40 and episodes["episode_id"].is_unique
    llm = steps[steps["parse_status"].notna()]
    assert (llm["parse_status"] == "parsed").all()
    assert manifest["llm"]["remote"]["fallback_rate"] == 0.0


def test_the_cli_exits_distinctly_for_a_failed_run(server, tmp_path):
    always(server, "say:no idea")
    path = tmp_path / "garbage.yaml"
    path.write_text(json.dumps(experiment(server.base_url, episodes=24, shard_size=4)))
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(path), "--workers", "0", "--out", str(out)])
    assert result.exit_code == EXIT_RUN_FAILED, result.output
    assert "fell back" in result.output and "fallbacks" in result.output
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert "HIGH FALLBACK" in report.output and "run failed" in report.output


def test_an_echoed_key_never_reaches_the_run_directory(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_TEST_KEY", "sk-secret-0123456789abcdef")
    always(server, "say:ACCEPT")
    spec = experiment(server.base_url, episodes=4)
    spec["models"]["remote"].update(api_key_env="MERCATO_TEST_KEY", max_retries=0)
    server.script[1:3] = ["reason_echo", "reason_echo"]  # two decisions fail, echoing the key
    run(spec, workers=0, out=tmp_path / "run")
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-secret-0123456789abcdef"
    steps = load(tmp_path / "run")[1]
    assert steps["llm_failed_requests"].sum() == 2
    for file in (tmp_path / "run").rglob("*"):
        if file.is_file():
            assert b"sk-secret" not in file.read_bytes(), file


def test_costs_and_tokens_are_the_sums_over_decisions(tmp_path):
    spec = {
        "name": "costs",
        "imports": ["tests.envs_fixtures.registered"],
        "env": "mercato/TestUltimatum-v0",
        "models": {"fakey": {"backend": "fake", "responses": ["maybe", "ACCEPT", "REJECT"]}},
        "price_per_1k": {"fakey": {"prompt": 0.5, "completion": 2.0}},
        "max_fallback_rate": 1.0,
        "roster": {"proposer": "random", "responder": {"policy": "llm", "model": "fakey"}},
        "episodes": 6,
        "shard_size": 3,
    }
    episodes, steps = load(run(spec, workers=0, out=tmp_path / "run"))
    llm = steps[steps["model"].notna()]
    assert set(llm["model"]) == {"fakey"}
    prompt, completion = llm["llm_prompt_tokens"].sum(), llm["llm_completion_tokens"].sum()
    assert episodes["llm_prompt_tokens"].sum() == prompt > 0
    assert episodes["llm_completion_tokens"].sum() == completion > 0
    assert episodes["llm_tokens"].sum() == prompt + completion
    assert (
        episodes["llm_requests"].sum() == llm["llm_requests"].sum() == episodes["llm_calls"].sum()
    )
    assert episodes["llm_cost"].sum() == pytest.approx((prompt * 0.5 + completion * 2.0) / 1e3)
    assert episodes["llm_decisions"].sum() == len(llm)
    paths = llm["parse_status"].value_counts().to_dict()
    for path in ("parsed", "reasked", "choice", "default"):
        assert episodes[f"llm_{path}"].sum() == paths.get(path, 0)
    totals = read_manifest(tmp_path / "run").to_json()["llm"]["fakey"]
    assert totals["cost"] == pytest.approx(episodes["llm_cost"].sum())
    assert totals["decisions"] == len(llm)


@pytest.mark.ray
def test_two_ray_workers_share_one_endpoint_limit(server, ray_local, tmp_path):
    """All workers' requests to one endpoint go through one client: the server never sees more
    than max_concurrency in flight."""
    server.delay_s = 0.05
    always(server, "say:ACCEPT")
    spec = experiment(server.base_url, episodes=16, shard_size=4, lockstep=8)
    spec["models"]["remote"]["max_concurrency"] = 4
    spec["roster"]["proposer"] = "random"
    path = run(spec, workers=2, out=tmp_path / "run")
    assert read_manifest(path).to_json()["status"] == "complete"
    assert 1 < server.max_in_flight <= 4
    assert len(server.requests) == 1 + 16  # the preflight, then one request per decision


@pytest.mark.ray
def test_a_server_slower_than_the_deadline_gets_no_duplicates(server, ray_local, tmp_path):
    """Requests that time out after they were sent are not re-sent: the server, still working
    on them, never sees the same request twice."""
    always(server, "slow:0.6")
    server.script[0] = "say:ACCEPT"  # the preflight is answered in time, then every reply is late
    spec = experiment(server.base_url, episodes=8, shard_size=4, lockstep=4)
    spec["models"]["remote"].update(timeout_s=0.3, max_retries=3, max_concurrency=4)
    with pytest.raises(FallbackRateError):
        run(spec, workers=2, out=tmp_path / "run")
    bodies = [json.dumps(r["body"], sort_keys=True) for r in server.requests]
    assert len(bodies) == len(set(bodies))
    episodes = load(tmp_path / "run")[0]
    assert (episodes["llm_failed_requests"] == episodes["llm_requests"]).all()
