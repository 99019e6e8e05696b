"""The conformance checks pass a correct env and fail broken ones."""

from __future__ import annotations

import copy
import random
import time
from typing import Any

import numpy as np
import pytest
from pettingzoo.test.example_envs import generated_agents_parallel_v0

from envs.core.checks import (
    assert_episodes_identical,
    check_aec_env,
    check_parallel_env,
    first_difference,
    play_episodes,
)
from envs.core.docstring import ENV_DOC_SECTIONS, ENV_DOCSTRING_TEMPLATE, missing_doc_sections
from envs.core.seeding import make_rng
from tests.envs_fixtures import ultimatum

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # api_test's style warnings


def test_ultimatum_passes_check_aec_env() -> None:
    check_aec_env(ultimatum.env)


def test_pettingzoo_parallel_example_passes_check_parallel_env() -> None:
    check_parallel_env(
        lambda: generated_agents_parallel_v0.parallel_env(max_cycles=20),
        num_cycles=20,
        max_steps=500,
    )


class ClockInInfo(ultimatum.raw_env):
    """Puts a wall-clock latency in the final info: the classic seed-test failure."""

    def _settle(self, accepted: bool) -> None:
        super()._settle(accepted)
        self.infos[ultimatum.RESPONDER]["latency"] = time.perf_counter()


class GlobalRandomPie(ultimatum.raw_env):
    """Draws the pie from the process-wide ``random`` module instead of the reset seed."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        super().reset(seed=seed, options=options)
        self._pie = float(random.randint(self.min_pie, self.max_pie))


class SeedsOnlyOnce(ultimatum.raw_env):
    """Ignores the seed of every reset after the first: state survives reset."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if self.np_random is None:
            self.np_random, self.np_random_seed = make_rng(seed)
        super().reset(seed=None, options=options)


@pytest.mark.parametrize(
    ("broken_env", "where"),
    [
        (ClockInInfo, r"a second instance\).*responder_0.*info\['latency'\]"),
        (GlobalRandomPie, r"a second instance\).*step 0.*observation\['pie'\]"),
        (SeedsOnlyOnce, r"the same instance replayed\).*observation\['pie'\]"),
    ],
)
def test_assert_episodes_identical_catches_nondeterminism(broken_env: type, where: str) -> None:
    with pytest.raises(AssertionError, match=where):
        assert_episodes_identical(broken_env, episodes=3)


def test_play_episodes_respects_masks_and_plays_whole_episodes() -> None:
    records = play_episodes(ultimatum.env(), seed=4, episodes=2, max_steps=100)
    assert [r.agent for r in records] == ["proposer_0", "responder_0"] * 2 * 2
    assert [r.episode for r in records] == [0] * 4 + [1] * 4
    acting = [r for r in records if r.action is not None]
    assert [r.agent for r in acting] == ["proposer_0", "responder_0"] * 2
    assert all(r.termination for r in records if r.action is None)


def test_play_episodes_leaves_env_action_spaces_untouched() -> None:
    env = ultimatum.env()
    space = env.action_space(ultimatum.RESPONDER)
    space.seed(99)
    state = space.np_random.bit_generator.state
    play_episodes(env, seed=0, episodes=2, max_steps=100)
    assert space.np_random.bit_generator.state == state


@pytest.mark.parametrize(
    ("a", "b", "where"),
    [
        ({"x": np.array([1.0, 2.0])}, {"x": np.array([1.0, 2.5])}, "['x']"),
        ({"x": np.array([1, 2], np.int8)}, {"x": np.array([1, 2], np.int16)}, "int8"),
        ([1, {"y": (2, 3)}], [1, {"y": (2, 4)}], "[1]['y'][1]"),
        ({"a": 1}, {"a": 1, "b": 2}, "keys"),
        (1, 1.0, "type int != float"),
        (0.1 + 0.2, 0.3, "0.30000000000000004"),
        ("offer", "offer ", "'offer' != 'offer '"),
    ],
)
def test_first_difference_finds_where_values_differ(a: Any, b: Any, where: str) -> None:
    difference = first_difference(a, b)
    assert difference is not None
    assert where in difference


@pytest.mark.parametrize(
    "value",
    [
        {"pie": np.array([float("nan"), 1.0], np.float32), "msg": "café"},
        (float("nan"), [np.int64(3), None]),
        np.array([{"a": 1}, "b"], dtype=object),
    ],
)
def test_first_difference_accepts_equal_values(value: Any) -> None:
    assert first_difference(value, copy.deepcopy(value)) is None


def test_fixture_follows_the_docstring_template() -> None:
    assert missing_doc_sections(ultimatum.raw_env) == []
    assert missing_doc_sections(ultimatum.raw_env()) == []


def test_docstring_check_flags_missing_sections() -> None:
    class Sparse:
        """A sparse env.

        ## Description
        Something.

        Rewards:
        Some.
        """

    class Undocumented(ultimatum.raw_env):
        pass

    expected = [s for s in ENV_DOC_SECTIONS if s not in ("Description", "Rewards")]
    assert missing_doc_sections(Sparse) == expected
    assert missing_doc_sections(Undocumented) == list(ENV_DOC_SECTIONS)


def test_docstring_template_satisfies_its_own_check() -> None:
    class FromTemplate:
        pass

    FromTemplate.__doc__ = ENV_DOCSTRING_TEMPLATE
    assert missing_doc_sections(FromTemplate) == []
