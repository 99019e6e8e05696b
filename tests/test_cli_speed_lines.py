"""Speed lines say what was measured: `bench llm`'s token budget agrees with the tokens it shows,
and `demo` on a model that takes no time prints no infinite rate."""

from __future__ import annotations

from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


def test_bench_llm_states_the_budget_and_the_tokens_it_got():
    args = ["bench", "llm", "--model", "fake", "--batch-sizes", "1,4", "--max-tokens", "64"]
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "up to 64 new tokens per request" in result.output
    assert ", 64 new tokens," not in result.output
    # the fake model answers 8 tokens: the table and the note say so
    assert "per request" in result.output and "8.0" in result.output
    assert "replies ended before 64 tokens (8.0 per request on average" in result.output


def test_demo_on_the_fake_model_prints_no_infinite_rate():
    result = runner.invoke(app, ["demo", "--model", "fake"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "inf tokens/s" not in result.output
    assert "in 0.00 s (no measurable time, so no tokens/s)" in result.output
