"""Play persuasion episodes in tests and keep what they ended with."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import AECEnv

from envs.games.persuasion_rules import SELLER
from tests.envs.games import playing


@dataclass
class Outcome(playing.Outcome):
    """A persuasion episode's outcome, with Nature's qualities as the seller saw them."""

    qualities: list[int] = field(default_factory=list)

    def see(self, agent: str, observation: Any) -> None:
        if agent == SELLER:
            self.qualities.append(observation["quality_high"])


def recommend(choice: int, message: Any = "") -> dict[str, Any]:
    return {"recommend": choice, "message": message}


def decide(choice: int, message: Any = "") -> dict[str, Any]:
    return {"decision": choice, "message": message}


play = functools.partial(playing.play, outcome_type=Outcome)
play_actions = functools.partial(playing.play_actions, outcome_type=Outcome)


def play_rounds(game: AECEnv, rounds: Iterable[tuple[int, int]], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)``: ``(recommend, decision)`` pairs, one per round."""
    actions = []
    for recommendation, decision in rounds:
        actions += [recommend(recommendation), decide(decision)]
    return play_actions(game, actions, seed)
