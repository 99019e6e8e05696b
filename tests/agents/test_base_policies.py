"""Policy protocol, BatchPolicy, RandomPolicy and HumanPolicy."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from gymnasium.spaces import Dict, Discrete, MultiDiscrete

from agents import BatchPolicy, HumanPolicy, Policy, RandomPolicy
from tests.envs_fixtures.ultimatum import ACCEPT, PROPOSER, REJECT, RESPONDER, env, raw_env
from tests.envs_fixtures.ultimatum_protocol import UltimatumProtocol


def scripted(*lines: str) -> tuple[Callable[[str], str], list[str]]:
    """An input function replying ``lines`` in order, then EOF; and the prompts it was shown."""
    replies = iter(lines)
    prompts: list[str] = []

    def input_fn(prompt: str) -> str:
        prompts.append(prompt)
        try:
            return next(replies)
        except StopIteration:
            raise EOFError from None

    return input_fn, prompts


def responder_observation(offer: int = 3, message: str = "") -> dict[str, Any]:
    game = env()
    game.reset(seed=0)
    game.step({"offer": offer, "message": message})
    return game.last()[0]


# --- Policy and BatchPolicy ---------------------------------------------------------------


def test_baseline_policies_satisfy_the_protocol() -> None:
    assert isinstance(RandomPolicy(Discrete(2)), Policy)
    assert isinstance(HumanPolicy(action_space=Discrete(2)), Policy)

    class ActOnly:
        def act(self, observation: Any, agent: str) -> Any:
            return 0

    assert not isinstance(ActOnly(), Policy)


def test_batch_policy_derives_act_batch_from_act() -> None:
    class Echo(BatchPolicy):
        def act(self, observation: Any, agent: str) -> Any:
            return (agent, observation)

    assert Echo().act_batch([(1, "a_0"), (2, "b_0")]) == [("a_0", 1), ("b_0", 2)]


def test_batch_policy_derives_act_from_act_batch() -> None:
    calls: list[int] = []

    class Batched(BatchPolicy):
        def act_batch(self, items: Sequence[tuple[Any, str]]) -> list[Any]:
            calls.append(len(items))
            return [observation * 10 for observation, _ in items]

    assert Batched().act(4, "a_0") == 40
    assert Batched().act_batch([(1, "a_0"), (2, "a_1")]) == [10, 20]
    assert calls == [1, 2]


def test_batch_policy_requires_one_override() -> None:
    with pytest.raises(TypeError, match="Neither"):

        class Neither(BatchPolicy):
            pass


# --- RandomPolicy -------------------------------------------------------------------------


def play_random(seed: int, episodes: int = 5) -> list[Any]:
    """All actions RandomPolicy takes over a few ultimatum games."""
    game = env()
    policy = RandomPolicy(game.action_space, seed=seed)
    actions = []
    for episode in range(episodes):
        game.reset(seed=episode)
        for agent in game.agent_iter():
            observation, _, terminated, truncated, _ = game.last()
            action = None if terminated or truncated else policy.act(observation, agent)
            actions.append(action)
            game.step(action)
    return actions


def test_random_policy_is_reproducible_per_seed() -> None:
    first = play_random(seed=3)
    assert len(first) == 20
    assert play_random(seed=3) == first
    assert play_random(seed=4) != first


def test_random_policy_actions_are_in_the_action_spaces() -> None:
    game = raw_env()
    policy = RandomPolicy(game.action_space, seed=0)
    for _ in range(50):
        assert game.action_space(PROPOSER).contains(policy.act({}, PROPOSER))
        assert game.action_space(RESPONDER).contains(policy.act({}, RESPONDER))


def test_random_policy_streams_are_per_agent() -> None:
    alone = RandomPolicy(Discrete(100), seed=1)
    interleaved = RandomPolicy(Discrete(100), seed=1)
    solo = [alone.act(None, "buyer_0") for _ in range(10)]
    mixed = []
    for _ in range(10):
        interleaved.act(None, "seller_0")
        mixed.append(interleaved.act(None, "buyer_0"))
    assert solo == mixed


def test_act_batch_matches_sequential_acts() -> None:
    items = [(None, "buyer_0"), (None, "seller_0"), (None, "buyer_0")]
    sequential = RandomPolicy(Discrete(1000), seed=2)
    assert RandomPolicy(Discrete(1000), seed=2).act_batch(items) == [
        sequential.act(o, a) for o, a in items
    ]


def test_random_policy_never_touches_env_spaces() -> None:
    game = raw_env()
    spaces = {agent: game.action_space(agent) for agent in game.possible_agents}
    for index, space in enumerate(spaces.values()):
        space.seed(100 + index)
    before = [repr(space.sample()) for space in spaces.values()]
    for index, space in enumerate(spaces.values()):
        space.seed(100 + index)
    policy = RandomPolicy(game.action_space, seed=0)
    for _ in range(20):
        policy.act({}, PROPOSER)
        policy.act(responder_observation(), RESPONDER)
    assert [repr(space.sample()) for space in spaces.values()] == before
    assert all(game.action_space(agent) is space for agent, space in spaces.items())


def test_random_policy_accepts_a_mapping_of_spaces() -> None:
    policy = RandomPolicy({"a_0": Discrete(2, start=5), "b_0": Discrete(3)}, seed=0)
    assert {policy.act(None, "a_0") for _ in range(30)} == {5, 6}
    assert {policy.act(None, "b_0") for _ in range(30)} == {0, 1, 2}
    with pytest.raises(TypeError):
        RandomPolicy(42)  # type: ignore[arg-type]


def test_random_policy_obeys_an_observation_mask() -> None:
    policy = RandomPolicy(Discrete(11), seed=0)
    mask = np.zeros(11, dtype=np.int8)
    mask[3] = 1
    assert {policy.act({"action_mask": mask}, "a_0") for _ in range(50)} == {3}
    mask[7] = 1
    assert {policy.act({"action_mask": mask}, "a_0") for _ in range(50)} == {3, 7}


def test_random_policy_obeys_a_dict_mask_from_info() -> None:
    game = env()
    game.reset(seed=0)
    _, _, _, _, info = game.last()
    offer_mask = np.zeros(11, dtype=np.int8)
    offer_mask[2] = 1
    mask = {**info["action_mask"], "offer": offer_mask}
    policy = RandomPolicy(game.action_space, seed=0)
    actions = [policy.sample(PROPOSER, mask) for _ in range(30)]
    assert {a["offer"] for a in actions} == {2}
    assert len({a["message"] for a in actions}) > 1


def test_random_policy_obeys_multi_discrete_masks() -> None:
    policy = RandomPolicy(MultiDiscrete([3, 2]), seed=0)
    mask = (np.array([0, 0, 1], np.int8), np.array([1, 0], np.int8))
    assert {tuple(policy.sample("a_0", mask)) for _ in range(20)} == {(2, 0)}


@pytest.mark.parametrize(
    ("space", "mask"),
    [
        (Discrete(3), np.zeros(3, np.int8)),
        (MultiDiscrete([2, 2]), (np.ones(2, np.int8), np.zeros(2, np.int8))),
        (Dict({"x": Discrete(2)}), {"x": np.zeros(2, np.int8)}),
    ],
)
def test_random_policy_refuses_a_mask_without_actions(space: Any, mask: Any) -> None:
    with pytest.raises(ValueError, match="seller_3"):
        RandomPolicy(space).sample("seller_3", mask)


# --- HumanPolicy with a protocol ----------------------------------------------------------


def test_human_number_picks_a_listed_action_and_instructions_show_once() -> None:
    input_fn, prompts = scripted("2", "1")
    out = io.StringIO()
    human = HumanPolicy(UltimatumProtocol(), input_fn=input_fn, output=out)
    observation = responder_observation(offer=4, message="deal?")
    assert human.act(observation, RESPONDER) == ACCEPT
    assert human.act(observation, RESPONDER) == REJECT
    text = out.getvalue()
    assert text.count("You are the responder") == 1
    assert "  1. REJECT\n  2. ACCEPT\n" in text
    assert "'deal?'" in text
    assert prompts == ["responder_0> ", "responder_0> "]


def test_human_text_is_parsed_by_the_protocol() -> None:
    input_fn, _ = scripted("offer 3 message: half? no, less")
    human = HumanPolicy(UltimatumProtocol(), input_fn=input_fn, output=io.StringIO())
    assert human.act(env().observation_space(PROPOSER).sample(), PROPOSER) == {
        "offer": 3,
        "message": "half? no, less",
    }


def test_human_bad_input_shows_the_error_and_asks_again() -> None:
    input_fn, prompts = scripted("hello", "99", "OFFER 4")
    out = io.StringIO()
    human = HumanPolicy(UltimatumProtocol(), input_fn=input_fn, output=out)
    action = human.act(env().observation_space(PROPOSER).sample(), PROPOSER)
    assert action == {"offer": 4, "message": ""}
    assert len(prompts) == 3
    text = out.getvalue()
    assert "expected 'OFFER <n>' with n an integer 0-10, got 'hello'" in text
    assert "got '99'" in text
    assert "Type a number 1-11 or an answer." in text


def test_human_end_of_input_propagates() -> None:
    input_fn, _ = scripted()
    human = HumanPolicy(UltimatumProtocol(), input_fn=input_fn, output=io.StringIO())
    with pytest.raises(EOFError):
        human.act(responder_observation(), RESPONDER)


def test_human_plays_a_whole_game() -> None:
    input_fn, _ = scripted("OFFER 6 MESSAGE: take it", "accept")
    human = HumanPolicy(UltimatumProtocol(), input_fn=input_fn, output=io.StringIO())
    game = env()
    game.reset(seed=5)
    final_rewards = {}
    for agent in game.agent_iter():
        observation, reward, terminated, truncated, _ = game.last()
        if terminated or truncated:
            final_rewards[agent] = reward
        game.step(None if terminated or truncated else human.act(observation, agent))
    pie = game.unwrapped._pie
    assert final_rewards == {PROPOSER: pie * 4 / 10, RESPONDER: pie * 6 / 10}


# --- HumanPolicy without a protocol -------------------------------------------------------


def test_human_discrete_reasks_until_an_integer_in_range() -> None:
    input_fn, prompts = scripted("x", "7", " 2 ")
    out = io.StringIO()
    human = HumanPolicy(input_fn=input_fn, output=out, action_space=Discrete(3))
    assert human.act(np.array([0.5]), "buyer_0") == 2
    text = out.getvalue()
    assert "'x' is not an integer; choose one of 0, 1, 2" in text
    assert "7 is not allowed; choose one of 0, 1, 2" in text
    assert len(prompts) == 3


def test_human_discrete_respects_the_mask_and_start() -> None:
    input_fn, _ = scripted("1", "2")
    out = io.StringIO()
    human = HumanPolicy(input_fn=input_fn, output=out, action_space={"buyer_0": Discrete(3)})
    mask = np.array([1, 0, 1], dtype=np.int8)
    assert human.act({"action_mask": mask}, "buyer_0") == 2
    assert "1 is not allowed; choose one of 0, 2" in out.getvalue()

    input_fn, _ = scripted("4")
    shifted = HumanPolicy(
        input_fn=input_fn, output=io.StringIO(), action_space=Discrete(2, start=3)
    )
    assert shifted.act(None, "buyer_0") == 4


def test_human_needs_a_protocol_or_a_discrete_space() -> None:
    with pytest.raises(ValueError, match="protocol"):
        HumanPolicy()
    human = HumanPolicy(
        input_fn=scripted("0")[0], output=io.StringIO(), action_space=raw_env().action_space
    )
    with pytest.raises(ValueError, match=r"proposer_0.*Discrete"):
        human.act({}, PROPOSER)
