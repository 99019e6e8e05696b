"""Every registered env declares its metrics: `EnvSpec.metrics` names exactly the keys of the final
``info["metrics"]`` of seeded episodes with scripted players.

A declared key with ``<...>`` in it is a pattern (``tactic_<name>``, ``welfare_day_<d>``) standing
for every key that fills the brackets; each pattern must match some key too, so `PLAYS` picks the
smallest parameters that still produce every metric (the marketplace needs two days).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import pytest
from pettingzoo import ParallelEnv

import agents.scripted
import agents.users  # noqa: F401  (registers the scripted players and simulated users)
import envs  # noqa: F401  (registers the built-in envs)
from agents.registry import make_policy
from envs.core.names import role_of
from envs.core.registry import EnvSpec, list_envs, make_env
from envs.core.turns import deciding_agents, idle_action

SEEDS = (0, 1)
MAX_MOVES = 20_000

PLAYS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "mercato/Bargaining-v0": (
        {"horizon": 4},
        {"alice": "bargaining/linear-concession", "bob": "bargaining/even-split"},
    ),
    "mercato/Negotiation-v0": (
        {"horizon": 4, "buyer_value_factor": 1.2},
        {"seller": "negotiation/anchoring", "buyer": "negotiation/split-the-difference"},
    ),
    "mercato/Persuasion-v0": (
        {"rounds": 4},
        {"seller": "persuasion/commitment", "buyer": "persuasion/bayesian"},
    ),
    "mercato/Marketplace-v0": (
        {"n_customers": 2, "days": 2, "max_ticks": 30},
        {"customer": "marketplace/careful", "business": "marketplace/honest"},
    ),
    "mercato/ManipulationTrial-v0": (
        {"assistant_type": "SEMA", "principal": True, "min_exchanges": 1, "max_exchanges": 2},
        {
            "user": "trials/parametric",
            "assistant": "trials/assistant",
            "principal": "trials/principal",
        },
    ),
    "mercato/RecDialogue-v0": (
        {"n_items": 100, "max_turns": 3},
        {"recommender": "dialogue/elimination", "user": "dialogue/agenda"},
    ),
    "mercato/RecFeed-v0": (
        {"n_items": 500, "max_steps": 4, "text_observations": False},
        {"recommender": "feed/satisfaction", "user": "feed/user"},
    ),
}
"""Env id -> (parameters, role -> scripted policy). An env missing here plays its defaults with
its views' opponents, and ``random`` for a role none of them names."""


def specs() -> list[EnvSpec]:
    """One spec per registered env id (AEC where it has both kinds), test doubles left out."""
    seen: dict[str, EnvSpec] = {}
    for spec in list_envs():
        if not spec.id.startswith("mercato/Test"):
            seen.setdefault(spec.id, spec)
    return list(seen.values())


SPECS = specs()
IDS = [spec.id for spec in SPECS]


# The check ---------------------------------------------------------------------------------------


def _pattern(key: str) -> re.Pattern[str] | None:
    """The regular expression of a pattern key (``<...>`` matches one or more characters)."""
    parts = re.split(r"<[^<>]+>", key)
    return re.compile(".+".join(map(re.escape, parts))) if len(parts) > 1 else None


def check_declared(declared: Mapping[str, str], emitted: Mapping[str, Any]) -> list[str]:
    """What is wrong between the declared metrics and one episode's: keys emitted but not
    declared, declared keys not emitted, patterns matching nothing (empty when they agree)."""
    patterns = {key: p for key in declared if (p := _pattern(key)) is not None}
    problems = [
        f"undeclared {key!r}"
        for key in emitted
        if key not in declared and not any(p.fullmatch(key) for p in patterns.values())
    ]
    problems += [
        f"missing {key!r}" for key in declared if key not in patterns and key not in emitted
    ]
    problems += [
        f"pattern {key!r} matches nothing"
        for key, p in patterns.items()
        if not any(p.fullmatch(name) for name in emitted)
    ]
    return problems


# Playing -----------------------------------------------------------------------------------------


def roster_of(spec: EnvSpec) -> dict[str, str]:
    """Role -> policy: `PLAYS`' roster, else the opponents its views seat."""
    if spec.id in PLAYS:
        return PLAYS[spec.id][1]
    roster: dict[str, str] = {}
    for view in spec.views:
        roster.update(view.opponents)
    return roster


def play(spec: EnvSpec, seed: int) -> dict[str, Any]:
    """One seeded episode; the final ``info["metrics"]``."""
    params = PLAYS.get(spec.id, ({}, {}))[0]
    env = make_env(spec.id, params, kind=spec.kind)
    roster = roster_of(spec)
    first = env.reset(seed=seed)
    if spec.id in PLAYS:  # a misnamed role would silently play random
        assert set(roster) == {role_of(agent) for agent in env.possible_agents}, spec.id
    policies = {
        agent: make_policy(roster.get(role_of(agent), "random"), env, seed=seed + i, env_id=spec.id)
        for i, agent in enumerate(env.possible_agents)
    }
    if isinstance(env, ParallelEnv):
        metrics = _play_parallel(env, policies, first[0])
    else:
        metrics = _play_aec(env, policies)
    env.close()
    assert metrics is not None, f"{spec.id}: no info['metrics'] at the end"
    return metrics


def _play_aec(env: Any, policies: Mapping[str, Any]) -> dict[str, Any] | None:
    metrics = None
    for moves, agent in enumerate(env.agent_iter()):
        assert moves < MAX_MOVES, "the episode does not end"
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            metrics = metrics or info.get("metrics")
            env.step(None)
        else:
            env.step(policies[agent].act(observation, agent))
    return metrics


def _play_parallel(
    env: Any, policies: Mapping[str, Any], observations: Mapping[str, Any]
) -> dict[str, Any] | None:
    metrics = None
    for _ in range(MAX_MOVES):
        if not env.agents:
            return metrics
        actions = {a: policies[a].act(observations[a], a) for a in deciding_agents(env)}
        idle = idle_action(env)
        if idle is not None:
            actions = {a: actions.get(a, idle) for a in env.agents}
        observations, _, _, _, infos = env.step(actions)
        metrics = metrics or next((i["metrics"] for i in infos.values() if "metrics" in i), None)
    raise AssertionError("the episode does not end")


@functools.cache
def episodes(env_id: str) -> tuple[dict[str, Any], ...]:
    """The final metrics of `SEEDS`' episodes (played once per test session)."""
    spec = next(spec for spec in SPECS if spec.id == env_id)
    return tuple(play(spec, seed) for seed in SEEDS)


# Tests -------------------------------------------------------------------------------------------


def test_every_env_is_covered():
    """Each built-in env has its parameters and roster here, and each declares metrics."""
    assert set(PLAYS) <= set(IDS), sorted(set(PLAYS) - set(IDS))
    assert not [spec.id for spec in SPECS if not spec.metrics]
    for spec in SPECS:
        assert all(meaning.strip() for meaning in spec.metrics.values()), spec.id


@pytest.mark.parametrize("env_id", IDS)
def test_the_declared_metrics_are_the_emitted_ones(env_id: str):
    declared = next(spec for spec in SPECS if spec.id == env_id).metrics
    for seed, metrics in zip(SEEDS, episodes(env_id), strict=True):
        problems = check_declared(declared, metrics)
        assert not problems, f"{env_id}, seed {seed}: {problems}"


@pytest.mark.parametrize("env_id", IDS)
def test_a_misspelled_declaration_is_caught(env_id: str):
    """Misspelling any one declared name (a pattern's fixed part included) breaks the check."""
    declared = dict(next(spec for spec in SPECS if spec.id == env_id).metrics)
    emitted = episodes(env_id)[0]
    for key in declared:
        wrong = {("x" + k if k == key else k): v for k, v in declared.items()}
        assert check_declared(wrong, emitted), f"{env_id}: misspelling {key!r} went unnoticed"


def test_the_check_reads_patterns():
    declared = {"deal": "", "tactic_<name>": ""}
    assert check_declared(declared, {"deal": 1.0, "tactic_guilt_trip": 0.0}) == []
    assert check_declared(declared, {"deal": 1.0, "tactics_charm": 0.0}) == [
        "undeclared 'tactics_charm'",
        "pattern 'tactic_<name>' matches nothing",
    ]
    assert check_declared(declared, {"tactic_charm": 0.0}) == ["missing 'deal'"]
