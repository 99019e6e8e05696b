"""`mercato/ManipulationTrial-v0`: conformance, option order, asymmetry, phases and rewards."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest

import envs  # noqa: F401
from envs.core.checks import check_aec_env, first_difference
from envs.trials.env import UNKNOWN, env, raw_env
from envs.trials.scenarios import load_scenarios
from tests.envs.trials.playing import play, players


@pytest.mark.parametrize(
    "params",
    [
        {"assistant_type": "NA"},
        {"assistant_type": "SEMA", "domain": "emotional", "tasks": 2, "hindsight": "full"},
        {"assistant_type": "MA", "principal": True, "hindsight": "none", "min_exchanges": 2},
        {"assistant_type": "MA", "text_observations": False, "max_exchanges": 12},
    ],
)
def test_conformance(params):
    check_aec_env(lambda: env(**params), num_cycles=80, max_steps=2000)


def test_registered_and_scripted_episodes_are_reproducible():
    made = pettingzoo.make("aec", "mercato/ManipulationTrial-v0", assistant_type="SEMA", tasks=3)
    a = play(made, seed=3)
    b = play(env(assistant_type="SEMA", tasks=3), seed=3)
    assert a["metrics"] == b["metrics"] and a["tasks"] == b["tasks"]
    assert a["metrics"]["tasks"] == 3 and a["metrics"]["messages"] == 20
    assert {t["scenario"] for t in a["tasks"]} == {"F1", "F2", "F3"}


def test_option_order_is_seeded_recorded_and_maps_back():
    library = load_scenarios()
    trial = raw_env(assistant_type="MA")
    orders = set()
    for seed in range(24):
        trial.reset(seed=seed)
        order = trial.infos["user_0"]["order"]
        orders.add(tuple(order))
        scenario = trial.task.scenario
        assert sorted(order) == [0, 1, 2, 3]
        text = trial.observe("user_0")["text"]
        for position, canonical in enumerate(order):
            title = library[scenario.id].options[canonical].title
            assert f"{'ABCD'[position]}. {title}:" in text
        seen = trial.observe("assistant_0")
        assert order[seen["optimal"]] == scenario.index_of("optimal")
        assert order[seen["hidden"]] == scenario.index_of("hidden")
        trial.reset(seed=seed)
        assert trial.infos["user_0"]["order"] == order  # same seed, same order
    assert len(orders) > 10


# phrases of the assistant's and principal's views (scenario texts may say "target" innocently)
FORBIDDEN = ("your target", "hidden", "points if", "payoff", "best option", "objective", "[other]")


@pytest.mark.parametrize("domain", ["financial", "emotional"])
def test_the_user_never_sees_the_target_or_the_payoff(domain):
    for scenario in [s.id for s in load_scenarios().values() if s.domain == domain]:
        trial = raw_env(domain=domain, scenario=scenario, assistant_type="SEMA", principal=True,
                        min_exchanges=2, max_exchanges=3)  # fmt: skip
        for seed in range(6):  # several presented orders
            trial.reset(seed=seed)
            policies = players(seed)
            for agent in trial.agent_iter():
                observation, _, done, _, _ = trial.last()
                user = trial.observe("user_0")
                assert set(user) & {"optimal", "hidden", "payoff", "roles", "agent_type"} == set()
                lowered = user["text"].lower()
                assert not any(word in lowered for word in FORBIDDEN), lowered
                trial.step(None if done else policies[agent].act(observation, agent))


def test_the_user_sees_the_same_whichever_option_is_the_target():
    for scenario in load_scenarios():
        domain = "financial" if scenario.startswith("F") else "emotional"
        trial = raw_env(domain=domain, scenario=scenario, assistant_type="MA", principal=True)
        for seed in range(4):
            views = []
            for pick in (0, 1):
                trial.reset(seed=seed)
                roles = trial.observe("principal_0")["roles"]
                target = [p for p, r in enumerate(roles) if r != 0][pick]
                trial.step({"target": target, "payoff": np.array([100.0, 50.0, 0.0])})
                views.append(trial.observe("user_0"))
                assert trial.observe("assistant_0")["hidden"] == target
            assert first_difference(*views) is None


def test_a_neutral_assistant_is_not_told_the_agenda():
    trial = raw_env(assistant_type="NA")
    trial.reset(seed=0)
    trial.step(trial.protocol.user_action(trial.observe("user_0")))
    seen = trial.observe("assistant_0")
    assert seen["optimal"] == UNKNOWN and seen["hidden"] == UNKNOWN
    assert not seen["payoff"].any() and "target" not in seen["text"].lower()
    assert list(seen["persona"]) == list(trial.persona)


def test_chat_cannot_end_before_the_minimum_and_ends_at_the_maximum():
    trial = raw_env(assistant_type="MA", min_exchanges=3, max_exchanges=5)
    trial.reset(seed=1)
    user = trial.protocol.user_action
    trial.step(user(trial.observe("user_0")))  # pre
    for exchange in range(1, 6):
        trial.step({"message": "hi", "tactic": 0, "stance": np.zeros(4)})
        obs = trial.observe("user_0")
        assert bool(obs["end_chat_mask"][1]) == (exchange >= 3)
        trial.step(user(obs, message="ok", end_chat=1 if exchange == 2 else 0))
    assert trial.task.exchanges == 5 and trial.phase == 3  # post


def test_rewards_are_true_utility_and_the_study_points():
    for agent_type in ("NA", "MA"):
        result = play(env(assistant_type=agent_type, principal=True), seed=11)
        metrics, returns = result["metrics"], result["returns"]
        assert returns["user_0"] == pytest.approx(metrics["true_utility"])
        expected = metrics["true_utility"] if agent_type == "NA" else metrics["assistant_points"]
        assert returns["assistant_0"] == pytest.approx(expected)
        assert returns["principal_0"] == pytest.approx(metrics["assistant_points"])
        assert metrics["hod_pre"] == metrics["rating_hidden_pre"] - metrics["rating_optimal_pre"]


def test_the_principal_earns_its_own_value_not_the_incentive_it_sets():
    trial = raw_env(assistant_type="MA", principal=True, hindsight="none", min_exchanges=1)
    trial.reset(seed=3)
    roles = trial.observe("principal_0")["roles"]
    target = next(p for p, r in enumerate(roles) if r != 0)
    trial.step({"target": target, "payoff": np.array([100.0, 100.0, 100.0])})  # all-out promise
    user = trial.protocol.user_action
    trial.step(user(trial.observe("user_0")))  # pre
    trial.step({"message": "hi", "tactic": 0, "stance": np.zeros(4)})
    trial.step(user(trial.observe("user_0"), message="ok", end_chat=1))
    optimal = next(p for p, r in enumerate(roles) if r == 0)
    trial.step({**user(trial.observe("user_0")), "choice": optimal})  # post: the optimal option
    assert trial.rewards["assistant_0"] == 100.0  # what it was promised for any choice
    assert trial.rewards["principal_0"] == 0.0  # the study's value of the optimal choice


def test_a_given_participant_can_be_seated():
    trial = raw_env()
    traits = [6.0, 6.0, 2.0, 6.5, 1.5, 7.0, 1.0]
    trial.reset(seed=0, options={"traits": traits})
    assert list(trial.observe("user_0")["traits"]) == traits
    assert list(trial.persona) == [2, 2, 0, 2, 0]
    with pytest.raises(ValueError, match=r"options\.traits must be 7 numbers"):
        trial.reset(seed=0, options={"traits": [1, 2]})


def test_bad_parameters_fail_with_one_line():
    with pytest.raises(ValueError, match="assistant_type must be one of"):
        raw_env(assistant_type="evil")
    with pytest.raises(ValueError, match="scenario must be one of"):
        raw_env(domain="emotional", scenario="F1")
    with pytest.raises(ValueError, match="tasks must be an int in \\[1, 3\\]"):
        raw_env(tasks=4)
    with pytest.raises(ValueError, match="payoff must be 3 numbers"):
        raw_env(payoff=[1, 2])
    with pytest.raises(ValueError, match=r"population\.ai_trust: mean must be in"):
        raw_env(population={"means": {"ai_trust": 9}})
