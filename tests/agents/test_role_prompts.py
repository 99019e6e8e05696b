"""Every role of every game has a written role prompt, and LLM players use it by default."""

from __future__ import annotations

import pettingzoo
import pytest

import envs  # noqa: F401
from agents.llm import role_of
from agents.prompts import game_of, role_prompts
from agents.registry import make_policy

GAMES = ["mercato/Bargaining-v0", "mercato/Negotiation-v0", "mercato/Persuasion-v0"]


@pytest.mark.parametrize("env_id", GAMES)
def test_each_role_has_a_prompt_and_the_llm_player_uses_it(env_id):
    env = pettingzoo.make("aec", env_id)
    prompts = role_prompts(env)
    roles = {role_of(agent) for agent in env.possible_agents}
    assert set(prompts) == roles
    assert all(len(text.split()) >= 20 for text in prompts.values())
    player = make_policy("llm", env.unwrapped, seed=0, model="fake")
    for agent in env.possible_agents:
        env.reset(seed=0)
        system = player.prompt_for(env.unwrapped.observe(agent), agent)[0]["content"]
        assert system.startswith(prompts[role_of(agent)])


def test_an_explicit_role_prompt_wins_and_unknown_games_have_none():
    env = pettingzoo.make("aec", "mercato/Bargaining-v0")
    player = make_policy("llm", env.unwrapped, seed=0, model="fake", role_prompt="Be brief.")
    env.reset(seed=0)
    system = player.prompt_for(env.unwrapped.observe("alice_0"), "alice_0")[0]["content"]
    assert system.startswith("Be brief.")
    assert game_of(env) == "bargaining"
    assert role_prompts(object()) == {}
