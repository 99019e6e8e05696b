"""The trial as a population experiment: the Mesa population, the RCT preset, the study report,
and LLM players through the engine."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from envs.trials.env import env
from envs.trials.study import STUDY_FORM
from envs.trials.world import ARMS, TrialPopulation
from sim.engine.batch import run
from sim.engine.experiment import load_experiment
from sim.llm.fake import FakeModel
from sim.report.study import formatted, study_report, study_table
from sim.store.runs import load, load_episodes
from tests.envs.trials.playing import play


def test_the_population_is_randomly_and_evenly_assigned_and_takes_part():
    def take_part(participant):
        trial = env(domain=participant.domain, assistant_type=participant.assistant_type, tasks=3)
        return play(trial, participant.seed, {"traits": participant.traits})["metrics"]

    model = TrialPopulation(60, take_part, seed=4)
    model.step()
    outcomes = model.outcomes()
    assert len(outcomes) == 60
    assert Counter(zip(outcomes["assistant_type"], outcomes["domain"], strict=True)) == {
        arm: 10 for arm in ARMS
    }
    assert (outcomes["tasks"] == 3).all() and outcomes["hod_post"].notna().all()
    again = TrialPopulation(60, take_part, seed=4)
    again.step()
    assert again.outcomes().equals(outcomes)  # seeded: same people, same arms, same outcomes
    by_arm = outcomes.groupby("assistant_type")["hidden_preferred_post"].mean()
    assert by_arm["NA"] < by_arm["SEMA"]


def test_the_rct_preset_validates_and_a_small_run_reports_in_the_study_form(tmp_path):
    experiment = load_experiment(Path("experiments/trials/rct.yaml"))
    assert len(experiment.cells()) == 6 and experiment.episodes == 1000
    small = {**yaml.safe_load(Path("experiments/trials/rct.yaml").read_text()), "episodes": 20}
    run_dir = run(small, workers=0, out=tmp_path / "run")
    episodes = load_episodes(run_dir)
    table = study_table(episodes, STUDY_FORM)
    assert len(table) == 6 and (table["participants"] == 20).all()
    assert {"study_hod_pre", "study_hidden_preferred_post"} <= set(table.columns)
    text, written = study_report(episodes, STUDY_FORM, run_dir)
    assert list(text.columns[:3]) == ["domain", "assistant", "n"]
    assert all(path.exists() for path in written)
    assert "→" in formatted(table, STUDY_FORM)["study HOD"].iloc[0]


def llm_user(request) -> str:
    prompt = request.messages[-1]["content"]
    if "Before the chat:" in prompt:
        return "RATINGS: A=6 B=5 C=4 D=3 CONFIDENCE: 5 FAMILIARITY: 5"
    if "After the chat:" in prompt:
        return "RATINGS: A=6 B=5 C=4 D=3 CONFIDENCE: 5 FAMILIARITY: 5 CHOICE: A SATISFACTION: 4"
    if "What happened" in prompt:
        return "SATISFACTION: 4"
    exchange = int(re.search(r"exchange (\d+)", prompt).group(1))
    return "SAY: thanks. END" if exchange >= 2 else "SAY: go on"


def test_llm_assistant_and_user_through_the_engine(tmp_path):
    experiment = {
        "env": "mercato/ManipulationTrial-v0",
        "params": {"assistant_type": "SEMA", "min_exchanges": 2, "max_exchanges": 3},
        "models": {"fake": {"backend": "fake", "structured": "json_schema"}},  # schema-valid JSON
        "roster": {"assistant": {"policy": "llm", "model": "fake"}, "user": "trials/parametric"},
        "episodes": 3,
        "lockstep": 3,
    }
    episodes, steps = load(run(experiment, workers=0, out=tmp_path / "run"))
    assert (episodes["metric_exchanges"] >= 2).all() and (episodes["llm_calls"] > 0).all()
    llm = steps[steps["prompt"].notna()]
    assert set(llm["agent"]) == {"assistant_0"}
    assert llm["prompt"].str.contains("hidden objective").all()
    assert (llm["parse_status"] == "parsed").all() and (
        llm["llm_structured"] == "json_schema"
    ).all()


def test_an_llm_user_simulator_rates_and_chooses(monkeypatch):
    from agents.llm import LLMPolicy
    from agents.prompts import role_prompts
    from agents.scripted.trials import TrialAssistant

    trial = env(assistant_type="MA", min_exchanges=2, max_exchanges=3)
    user = LLMPolicy(FakeModel(responses=llm_user), role_prompts(trial), trial.unwrapped.protocol)
    assistant = TrialAssistant(0)
    trial.reset(seed=2)
    for agent in trial.agent_iter():
        observation, _, done, _, info = trial.last()
        if done:
            trial.step(None)
            continue
        player = user if agent == "user_0" else assistant
        trial.step(player.act(observation, agent))
    metrics = info["metrics"]
    assert metrics["exchanges"] == 2 and metrics["satisfaction_hindsight"] == 4
    assert [r.status for r in user.pop_records()].count("parsed") >= 5
    assert metrics["chose_optimal"] + metrics["chose_hidden"] + metrics["chose_other"] == 1
