"""Conformance checks every mercato env passes, and users can run on their own envs.

PettingZoo's tests plus a full-episode determinism test: ``parallel_seed_test`` compares one step
only, and ``seed_test`` compares one episode on two fresh instances. `assert_episodes_identical`
plays several whole episodes on a fresh instance and again on the same one, which also catches
state that survives ``reset``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from gymnasium.spaces import Space
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.protocol import action_mask_of
from envs.core.seeding import derive_seed


def check_aec_env(
    env_fn: Callable[[], AECEnv], *, num_cycles: int = 200, max_steps: int = 10_000
) -> None:
    """``api_test``, ``seed_test`` and full-episode determinism for an AEC env factory."""
    # pettingzoo.test imports pytest and PettingZoo's classic games: load it only to check.
    from pettingzoo.test import api_test, seed_test

    api_test(env_fn(), num_cycles=num_cycles)
    seed_test(env_fn, num_cycles=num_cycles)
    assert_episodes_identical(env_fn, max_steps=max_steps)


def check_parallel_env(
    par_env_fn: Callable[[], ParallelEnv], *, num_cycles: int = 200, max_steps: int = 10_000
) -> None:
    """The parallel API test, the AEC tests on its ``parallel_to_aec`` view, and determinism.

    ``parallel_api_test`` never checks observations against their spaces, so the AEC view's
    ``api_test`` is needed too.
    """
    from pettingzoo.test import api_test, parallel_api_test, seed_test

    def aec_fn() -> AECEnv:
        return parallel_to_aec(par_env_fn())

    parallel_api_test(par_env_fn(), num_cycles=num_cycles)
    api_test(aec_fn(), num_cycles=num_cycles)
    seed_test(aec_fn, num_cycles=num_cycles)
    assert_episodes_identical(aec_fn, max_steps=max_steps)


@dataclass(frozen=True)
class StepRecord:
    """What one agent saw (``env.last()``) and then did, at one step of one episode."""

    episode: int
    step: int
    agent: str
    observation: Any
    reward: Any
    termination: Any
    truncation: Any
    info: Any
    action: Any


def assert_episodes_identical(
    env_fn: Callable[[], AECEnv], *, seed: int = 0, episodes: int = 2, max_steps: int = 10_000
) -> None:
    """Play ``episodes`` whole episodes (reset seeds ``seed``, ``seed + 1``, ...) with seeded random
    actions, three times: on a fresh env, on a second fresh env, and on the first env again.
    Raise AssertionError at the first step where anything differs.

    Actions respect the ``action_mask`` in the observation or info. An episode longer than
    ``max_steps`` agent turns is cut there in all three plays.
    """
    first_env = env_fn()
    reference = play_episodes(first_env, seed=seed, episodes=episodes, max_steps=max_steps)
    second_env = env_fn()
    fresh = play_episodes(second_env, seed=seed, episodes=episodes, max_steps=max_steps)
    _assert_same_records(reference, fresh, "a second instance")
    replayed = play_episodes(first_env, seed=seed, episodes=episodes, max_steps=max_steps)
    _assert_same_records(reference, replayed, "the same instance replayed")
    first_env.close()
    second_env.close()


def play_episodes(env: AECEnv, *, seed: int, episodes: int, max_steps: int) -> list[StepRecord]:
    """Every agent turn of ``episodes`` episodes, actions sampled from seeded copies of the
    env's action spaces (the env's own space objects are left untouched)."""
    spaces: dict[str, Space] = {}
    records: list[StepRecord] = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        for step, agent in enumerate(env.agent_iter(max_steps)):
            observation, reward, termination, truncation, info = env.last()
            if termination or truncation:
                action = None
            else:
                if agent not in spaces:
                    spaces[agent] = copy.deepcopy(env.action_space(agent))
                    spaces[agent].seed(derive_seed(seed, agent))
                action = spaces[agent].sample(action_mask_of(observation, info))
            # Copies: an env may mutate the arrays and dicts it handed out or was given.
            seen = copy.deepcopy((observation, reward, termination, truncation, info, action))
            records.append(StepRecord(episode, step, agent, *seen))
            env.step(action)
    return records


def _assert_same_records(expected: list[StepRecord], actual: list[StepRecord], label: str) -> None:
    for want, got in zip(expected, actual, strict=False):
        for field in fields(StepRecord):
            difference = first_difference(getattr(want, field.name), getattr(got, field.name))
            if difference is not None:
                raise AssertionError(
                    f"not deterministic ({label}): episode {want.episode}, step {want.step}, "
                    f"agent {want.agent!r}: {field.name}{difference}"
                )
    if len(expected) != len(actual):
        raise AssertionError(
            f"not deterministic ({label}): {len(expected)} agent turns, then {len(actual)}"
        )


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where ``a`` and ``b`` first differ (e.g. ``"['prices'][2]: 1.0 != 2.0"``), or None.

    Exact: types must match, floats compare bit-for-bit except that NaN equals NaN, arrays must
    match in dtype, shape and every element, mappings in keys and values.
    """
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _array_difference(a, b, path)
    if type(a) is not type(b):
        return f"{path}: type {type(a).__name__} != {type(b).__name__} ({a!r} != {b!r})"
    if isinstance(a, Mapping):
        if set(a) != set(b):
            return f"{path}: keys {sorted(map(repr, a))} != {sorted(map(repr, b))}"
        return _first_of(first_difference(a[k], b[k], f"{path}[{k!r}]") for k in a)
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        return _first_of(
            first_difference(x, y, f"{path}[{i}]")
            for i, (x, y) in enumerate(zip(a, b, strict=True))
        )
    if isinstance(a, float | np.floating) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def _array_difference(a: Any, b: Any, path: str) -> str | None:
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return f"{path}: type {type(a).__name__} != {type(b).__name__}"
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{path}: array {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    if a.dtype == object:
        pairs = zip(a.ravel(), b.ravel(), strict=True)
        return _first_of(
            first_difference(x, y, f"{path}.flat[{i}]") for i, (x, y) in enumerate(pairs)
        )
    if np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
        return None
    return f"{path}: {a!r} != {b!r}"


def _first_of(differences: Any) -> str | None:
    return next((d for d in differences if d is not None), None)
