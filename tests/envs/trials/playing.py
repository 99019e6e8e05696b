"""Play trial episodes with the scripted assistant, the parametric participant and the principal."""

from __future__ import annotations

from typing import Any

import agents.scripted
import agents.users  # noqa: F401
from agents.scripted.trials import TrialAssistant, TrialPrincipal
from agents.users.parametric import ParametricParticipant


def players(seed: int) -> dict[str, Any]:
    return {
        "user_0": ParametricParticipant(seed),
        "assistant_0": TrialAssistant(seed + 1),
        "principal_0": TrialPrincipal(seed + 2),
    }


def play(env: Any, seed: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One episode; returns the final info of user_0 (metrics and tasks) and the returns."""
    env.reset(seed=seed, options=options)
    policies = players(seed)
    returns: dict[str, float] = dict.fromkeys(env.possible_agents, 0.0)
    final: dict[str, Any] = {}
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        returns[agent] += reward
        if terminated or truncated:
            final = final or info
            env.step(None)
        else:
            env.step(policies[agent].act(observation, agent))
    return {**final, "returns": returns}
