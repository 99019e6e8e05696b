"""register_env puts envs in PettingZoo's registry under mercato/ and lists them."""

from __future__ import annotations

import warnings

import pettingzoo
import pytest
from pettingzoo import AECEnv, ParallelEnv

from envs.core.registry import EnvSpec, list_envs, register_env

ULTIMATUM_ID = "mercato/TestUltimatum-v0"
ULTIMATUM_ENTRY = "tests.envs_fixtures.ultimatum:env"
GENERATED = "pettingzoo.test.example_envs.generated_agents_parallel_v0"


@pytest.fixture(scope="module")
def ultimatum_info() -> EnvSpec:
    return register_env(
        "TestUltimatum-v0",
        kind="aec",
        entry_point=ULTIMATUM_ENTRY,
        family="test",
        summary="A one-shot ultimatum game (test fixture).",
    )


def test_registered_env_is_made_by_pettingzoo(ultimatum_info: EnvSpec) -> None:
    env = pettingzoo.make("aec", ULTIMATUM_ID, max_pie=20)
    env.reset(seed=1)
    assert isinstance(env, AECEnv)
    assert env.agents == ["proposer_0", "responder_0"]
    assert env.unwrapped.max_pie == 20


def test_list_envs_describes_the_registration(ultimatum_info: EnvSpec) -> None:
    assert ultimatum_info in list_envs()
    assert ultimatum_info == EnvSpec(
        id=ULTIMATUM_ID,
        kind="aec",
        family="test",
        summary="A one-shot ultimatum game (test fixture).",
        entry_point=ULTIMATUM_ENTRY,
    )
    ids = [(info.id, info.kind) for info in list_envs()]
    assert ids == sorted(ids)


def test_same_registration_again_is_a_silent_no_op(ultimatum_info: EnvSpec) -> None:
    before = list_envs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PettingZoo warns when an id is overridden
        again = register_env(
            "TestUltimatum-v0",
            kind="aec",
            entry_point=ULTIMATUM_ENTRY,
            family="test",
            summary="A one-shot ultimatum game (test fixture).",
        )
    assert again is ultimatum_info
    assert list_envs() == before


def test_conflicting_registration_names_the_id(ultimatum_info: EnvSpec) -> None:
    with pytest.raises(ValueError, match="mercato/TestUltimatum-v0"):
        register_env(
            "TestUltimatum-v0",
            kind="aec",
            entry_point="tests.envs_fixtures.ultimatum:raw_env",
            family="test",
            summary="another",
        )
    with pytest.raises(ValueError, match="mercato/TestUltimatum-v0"):
        register_env(
            "TestUltimatum-v0",
            kind="aec",
            entry_point=ULTIMATUM_ENTRY,
            family="test",
            summary="same entry point, other default kwargs",
            kwargs={"max_pie": 50},
        )
    assert pettingzoo.make("aec", ULTIMATUM_ID).unwrapped.max_pie == 100


def test_one_id_can_be_registered_as_both_kinds() -> None:
    for kind, attr in (("aec", "env"), ("parallel", "parallel_env")):
        register_env(
            "TestGenerated-v0",
            kind=kind,
            entry_point=f"{GENERATED}:{attr}",
            family="test",
            summary="PettingZoo's generated-agents example",
            kwargs={"max_cycles": 5},
        )
    assert isinstance(pettingzoo.make("aec", "mercato/TestGenerated-v0"), AECEnv)
    assert isinstance(pettingzoo.make("parallel", "mercato/TestGenerated-v0"), ParallelEnv)
    kinds = {info.kind for info in list_envs() if info.id == "mercato/TestGenerated-v0"}
    assert kinds == {"aec", "parallel"}


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [("Bad-v0", "gym", "kind"), ("other/Bad-v0", "aec", "namespace"), ("", "aec", "name")],
)
def test_invalid_registrations_are_refused(name: str, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        register_env(name, kind=kind, entry_point=ULTIMATUM_ENTRY, family="t", summary="s")  # type: ignore[arg-type]
    assert all(info.id != f"mercato/{name}" for info in list_envs())
