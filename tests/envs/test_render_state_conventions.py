"""PettingZoo's conventions for every built-in env: ``render_mode`` "ansi" (the protocol's text of
the acting agent's observation, after a summary line) and "human" (printed) declared and working,
an unknown mode refused; ``state()`` and ``state_space`` where the agents together observe the
game, a reason where not; the Parallel marketplace also made as AEC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pettingzoo
import pytest
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.test import api_test, render_test

import envs
from envs.core.registry import env_kinds, make_env
from envs.core.rendering import NoGlobalState

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # api_test's style warnings

SMALL: dict[str, dict[str, Any]] = {  # parameters that keep an episode short
    "mercato/Bargaining-v0": {"horizon": 3},
    "mercato/Negotiation-v0": {"horizon": 3},
    "mercato/Persuasion-v0": {"rounds": 2},
    "mercato/ManipulationTrial-v0": {"min_exchanges": 1, "max_exchanges": 2},
    "mercato/Marketplace-v0": {"n_customers": 2},
    "mercato/RecDialogue-v0": {"max_turns": 3},
    "mercato/RecFeed-v0": {"max_steps": 4},
}
BUILT_IN = sorted(
    {spec.id for spec in envs.list_envs() if str(spec.entry_point).startswith("envs.")}
)
WITH_STATE = sorted(set(BUILT_IN) - {"mercato/Marketplace-v0"})


def test_every_built_in_env_is_covered() -> None:
    assert sorted(SMALL) == BUILT_IN


def aec(env_id: str, **params: Any) -> AECEnv:
    return pettingzoo.make("aec", env_id, **SMALL[env_id], **params)


def sample(env: AECEnv, agent: str, info: dict[str, Any]) -> Any:
    return env.action_space(agent).sample(info.get("action_mask"))


@pytest.mark.parametrize("env_id", BUILT_IN)
def test_render_modes_are_declared_and_pass_pettingzoo_render_test(env_id: str) -> None:
    env = aec(env_id)
    assert env.metadata["render_modes"] == ["ansi", "human"]
    render_test(lambda render_mode: aec(env_id, render_mode=render_mode))


@pytest.mark.parametrize("env_id", BUILT_IN)
def test_ansi_render_is_a_summary_then_the_acting_agents_protocol_text(env_id: str) -> None:
    env = aec(env_id, render_mode="ansi")
    env.reset(seed=0)
    protocol = env.unwrapped.protocol
    for _ in range(3):
        if not env.agents:
            break
        agent = env.agent_selection
        _, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        text = env.render()
        assert isinstance(text, str) and text.splitlines()[0].strip()
        deciding = env.unwrapped.deciding_agents() if env_id.endswith("Marketplace-v0") else [agent]
        for who in deciding:
            observed = env.unwrapped._observations[who] if len(deciding) > 1 else env.observe(who)
            assert f"--- {who} ---\n{protocol.render(observed, who)}" in text
        env.step(sample(env, agent, info))


@pytest.mark.parametrize("env_id", BUILT_IN)
def test_human_render_prints_the_ansi_text(env_id: str, capsys: pytest.CaptureFixture) -> None:
    shown = aec(env_id, render_mode="ansi")
    shown.reset(seed=1)
    printed = aec(env_id, render_mode="human")
    printed.reset(seed=1)
    assert printed.render() is None
    assert capsys.readouterr().out == shown.render() + "\n"


@pytest.mark.parametrize("env_id", BUILT_IN)
def test_an_unknown_render_mode_is_refused_naming_the_modes(env_id: str) -> None:
    with pytest.raises(ValueError, match=r"render_mode must be None, 'ansi', 'human'; got 'rgb'"):
        aec(env_id, render_mode="rgb")


@pytest.mark.parametrize("env_id", WITH_STATE)
def test_state_is_in_state_space_through_an_episode(env_id: str) -> None:
    env = aec(env_id)
    env.reset(seed=2)
    space = env.state_space
    assert space is env.unwrapped.state_space  # built once
    assert set(env.possible_agents) <= set(space.spaces)
    for step, agent in enumerate(env.agent_iter(max_iter=400)):
        state = env.state()
        assert space.contains(state), f"{env_id} step {step}: state() not in state_space"
        _, _, terminated, truncated, info = env.last()
        env.step(None if terminated or truncated else sample(env, agent, info))
    assert not env.agents, f"{env_id}: the episode did not end in 400 steps"


def test_state_holds_each_players_private_values() -> None:
    env = aec("mercato/Bargaining-v0", complete_information=False, discount_bob=0.7)
    env.reset(seed=0)
    state = env.state()
    assert state["bob_0"]["own_discount"][0] == pytest.approx(0.7)
    assert state["alice_0"]["other_discount_known"] == 0  # Alice alone does not know it


def test_trial_state_adds_the_utilities_nobody_sees_yet() -> None:
    env = aec("mercato/ManipulationTrial-v0")
    env.reset(seed=0)
    task = env.unwrapped.task
    expected = [task.scenario.options[c].utility for c in task.order]
    assert np.allclose(env.state()["utilities"], expected)


def test_the_marketplace_says_why_it_has_no_global_state() -> None:
    for env in (aec("mercato/Marketplace-v0"), make_env("mercato/Marketplace-v0", SMALL[
            "mercato/Marketplace-v0"])):  # fmt: skip
        env.reset(seed=0)
        with pytest.raises(NoGlobalState, match="no global state in a fixed space: the market"):
            env.state()
    assert not hasattr(make_env("mercato/Marketplace-v0"), "state_space")


def test_the_marketplace_is_made_as_aec_and_as_parallel() -> None:
    as_aec = pettingzoo.make("aec", "mercato/Marketplace-v0", n_customers=2)
    assert isinstance(as_aec, AECEnv)
    api_test(as_aec, num_cycles=20)
    assert isinstance(pettingzoo.make("parallel", "mercato/Marketplace-v0"), ParallelEnv)
    assert env_kinds("mercato/Marketplace-v0") == {"aec", "parallel"}
    assert isinstance(make_env("mercato/Marketplace-v0"), ParallelEnv)  # its own kind by default
    assert isinstance(make_env("mercato/Marketplace-v0", kind="aec"), AECEnv)
    ids = [spec.id for spec in envs.list_envs()]
    assert ids.count("mercato/Marketplace-v0") == 1
