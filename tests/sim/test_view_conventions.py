"""The single-agent views follow the conventions RL users rely on: ``opponents=`` takes exactly
an experiment roster's shapes (a name, or ``{policy, model, role_prompt, options}``) with
one-line errors; ``render_mode`` "ansi"/"human" give the learner's protocol text; the discrete
views can put the action mask in the observation, as PettingZoo's classic envs do."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test

import envs  # noqa: F401  (registers the envs)
from agents.llm import LLMPolicy
from envs.core.protocol import protocol_of
from sim.rl import flat_pettingzoo, flat_view
from sim.rl.views import view_ids

BUYER_VIEW = "mercato/Negotiation-Buyer-v0"


def play(env: gymnasium.Env, seed: int, steps: int = 40) -> list[float]:
    _, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    rewards = []
    for _ in range(steps):
        _, reward, terminated, truncated, info = env.step(
            env.action_space.sample(info["action_mask"])
        )
        rewards.append(reward)
        if terminated or truncated:
            break
    return rewards


# opponents= ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"policy": "llm", "model": "fake"},
        {
            "policy": "llm",
            "model": "fake",
            "role_prompt": "You sell.",
            "options": {"max_reasks": 1},
        },
    ],
)
def test_llm_opponents_take_the_roster_shape(entry: dict) -> None:
    env = gymnasium.make(BUYER_VIEW, opponents={"seller": entry})
    assert play(env, seed=0)
    seller = env.unwrapped._players["seller_0"]
    assert isinstance(seller, LLMPolicy) and seller.model.backend == "fake"
    if "role_prompt" in entry:
        assert seller.role_prompt == "You sell." and seller.max_reasks == 1


def test_one_model_per_spec_is_built_for_every_episode() -> None:
    env = gymnasium.make(BUYER_VIEW, opponents={"seller": {"policy": "llm", "model": "fake"}})
    env.reset(seed=0)
    first = env.unwrapped._players["seller_0"].model
    env.reset(seed=1)
    assert env.unwrapped._players["seller_0"].model is first


def test_llm_opponents_replay_by_seed() -> None:
    opponents = {"seller": {"policy": "llm", "model": "fake"}}
    runs = [play(gymnasium.make(BUYER_VIEW, opponents=opponents), seed=5) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("opponents", "message"),
    [
        (
            {"seller": "llm"},
            r"^opponents\.seller\.model: policy 'llm' needs a model: a spec \(fake, local, ",
        ),
        (
            {"seller": {"policy": "llm", "options": {"model": "fake"}}},
            r"^opponents\.seller\.options: 'model' is a field of the entry, not an option",
        ),
        ({"seller": {"policy": "llm", "model": "gpt"}}, r"^opponents\.seller\.model: model spec"),
        (
            {"seller": {"policy": "llm", "modle": "fake"}},
            r"^opponents\.seller\.modle: unknown field; allowed: \['model', 'options', 'policy'",
        ),
        (
            {"seller": {"policy": "negotiation/anchoring", "model": "fake"}},
            r"^opponents\.seller\.model: policy 'negotiation/anchoring' takes no model",
        ),
        ({"seller": {"model": "fake"}}, r"^opponents\.seller\.policy: required field is missing"),
        ({"carol": "random"}, r"^opponents\.carol: no such agent or role in mercato/Negotiation"),
        ({"seller": "nobody"}, r"^opponents\.seller: policy 'nobody' is unknown"),
    ],
)
def test_bad_opponents_fail_at_make_in_one_line_naming_the_field(
    opponents: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        gymnasium.make(BUYER_VIEW, opponents=opponents)
    assert "\n" not in str(caught.value)


def test_roles_left_out_keep_the_views_declared_opponents() -> None:
    env = gymnasium.make(
        "mercato/Marketplace-Customer-v0", opponents={"business": "random"}, n_customers=2
    )
    env.reset(seed=0)
    players = {agent: type(p).__name__ for agent, p in env.unwrapped._players.items()}
    assert players["business_0"] == "RandomPolicy"
    assert players["customer_1"] != "RandomPolicy"  # the declared marketplace/careful


# render_mode -----------------------------------------------------------------------------------


@pytest.mark.parametrize("view_id", view_ids())
def test_views_render_the_learners_protocol_text(view_id: str, capsys) -> None:
    env = gymnasium.make(view_id, render_mode="ansi")
    assert env.metadata["render_modes"] == ["ansi", "human"]
    observation, _ = env.reset(seed=0)
    view = env.unwrapped
    assert env.render() == protocol_of(view.env).render(observation, view.learner)
    human = gymnasium.make(view_id, render_mode="human")
    human.reset(seed=0)
    assert human.render() is None
    assert capsys.readouterr().out.count(env.render()) == 2  # at reset and at render()


def test_views_pass_gymnasiums_render_check() -> None:
    view = gymnasium.make("mercato/Bargaining-Bob-v0", render_mode="ansi").unwrapped
    assert view.render_mode == "ansi" and view.env.unwrapped.render_mode is None  # not a param
    check_env(view)


def test_an_unknown_render_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"render_mode must be None, 'ansi', 'human'; got 'rgb'"):
        gymnasium.make("mercato/Bargaining-Bob-v0", render_mode="rgb")


# masks in the observation ------------------------------------------------------------------------


def test_flat_view_can_put_the_grid_mask_in_the_observation() -> None:
    env = flat_view("mercato/Bargaining-Bob-v0", mask_observation=True)
    observation, _ = env.reset(seed=0)
    assert set(observation) == {"observation", "action_mask"}
    assert env.observation_space.contains(observation)
    assert np.array_equal(observation["action_mask"], env.action_masks().astype(np.int8))
    assert 0 < observation["action_mask"].sum() < env.action_space.n  # Bob responds: some off
    observation, *_ = env.step(int(np.flatnonzero(observation["action_mask"])[0]))
    assert np.array_equal(observation["action_mask"], env.action_masks().astype(np.int8))
    check_env(env, skip_render_check=True)
    plain, _ = flat_view("mercato/Bargaining-Bob-v0").reset(seed=0)
    assert isinstance(plain, np.ndarray)  # the default stays a flat Box


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_flat_pettingzoo_can_put_the_grid_mask_in_the_observation() -> None:
    env = flat_pettingzoo("mercato/Bargaining-v0", mask_observation=True, bins=5)
    api_test(env, num_cycles=30)  # samples actions with obs["action_mask"]
    env.reset(seed=0)
    observation, _, _, _, info = env.last()
    assert np.array_equal(observation["action_mask"], info["action_mask"])
