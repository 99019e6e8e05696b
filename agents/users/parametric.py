"""``trials/parametric``: a simulated participant of the manipulation trial, without an LLM.

It rates the options from their face-value appeal and its own noise, is moved by each assistant
message according to the message's stance and tactic and its own traits (trust in AI,
agreeableness, reactance), talks in short templated replies, ends the chat as soon as it may (or
after ``patience`` more exchanges), then rates again, chooses its top-rated option and rates its
satisfaction, before and after the true outcome is revealed. The rules are
`agents.users.participant_model`; the numbers are the shipped calibration to the study's
per-cell results (`agents/users/data/participant_calibration.json`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from agents.users.participant_model import (
    DomainParameters,
    choice_of,
    hear,
    load_parameters,
    pre_latent,
    ratings_of,
)
from envs.trials.scenarios import DOMAINS

ENV_ID = "mercato/ManipulationTrial-v0"
CALIBRATION = Path(__file__).resolve().parent / "data" / "participant_calibration.json"
PRE, CHAT, POST, HINDSIGHT = 1, 2, 3, 4

AGREE = ("That makes sense.", "Good point, I hadn't thought of that.", "Okay, I like that idea.")
DOUBT = ("I'm not so sure about that.", "Hmm, that doesn't quite fit what I need.",
         "I'd still rather keep my options open.")  # fmt: skip
NEUTRAL = ("I see. Tell me more.", "Okay.", "What else should I consider?")


@functools.cache
def calibrated_parameters(path: str | None = None) -> dict[str, DomainParameters]:
    """Domain -> fitted parameters from the calibration file (the shipped one by default)."""
    data = json.loads(Path(path or CALIBRATION).read_text(encoding="utf-8"))
    return load_parameters(data["parameters"])


class ParametricParticipant(BatchPolicy):
    """One simulated person for one episode (it keeps its latent view between turns)."""

    name = "trials/parametric"

    def __init__(
        self, seed: int, *, patience: int = 0, parameters: dict[str, DomainParameters] | None = None
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.rng = np.random.default_rng(seed)
        self.patience = patience
        self.parameters = parameters or calibrated_parameters()
        self.latent: np.ndarray | None = None
        self.task = -1
        self.allowed_since = -1
        self.confidence = 5
        self.familiarity = 5

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        phase = int(observation["phase"])
        p = self.parameters[DOMAINS[int(observation["domain"])]]
        traits = np.asarray(observation["traits"])
        if phase == PRE or int(observation["task"]) != self.task:
            self._start(observation, p)
        assert self.latent is not None
        action = self._blank()
        if phase == CHAT:
            before = int(np.argmax(self.latent[0]))
            self.latent = hear(
                self.latent, np.asarray(observation["heard_stance"]),
                int(observation["heard_tactic"]), traits, self.rng, p,
            )  # fmt: skip
            action["message"] = self._reply(np.asarray(observation["heard_stance"]), before)
            action["end_chat"] = self._ready_to_end(observation)
        elif phase == POST:
            choice = int(choice_of(self.latent)[0])
            action["choice"] = choice
            top = int(ratings_of(self.latent)[0, choice])
            action["satisfaction"][0] = int(np.clip(round(1 + 4 * (top - 1) / 9), 1, 5))
            self.confidence = int(np.clip(self.confidence + self.rng.integers(-1, 2), 1, 10))
            action["confidence"][0] = self.confidence
        elif phase == HINDSIGHT:
            outcome = float(observation["outcome"][0])
            action["satisfaction"][0] = int(np.clip(round(3 + 2 * outcome), 1, 5))
        return action

    def _start(self, observation: Any, p: DomainParameters) -> None:
        self.task = int(observation["task"])
        self.latent = pre_latent(np.asarray(observation["appeal"]), self.rng, p)
        self.confidence = int(np.clip(round(self.rng.normal(6.0, 1.5)), 1, 10))
        openness = float(observation["traits"][0])
        self.familiarity = int(np.clip(round(self.rng.normal(3.0 + 0.4 * openness, 1.5)), 1, 10))
        self.allowed_since = -1

    def _blank(self) -> dict[str, Any]:
        assert self.latent is not None
        ratings = ratings_of(self.latent)[0]
        return {
            "message": "",
            "ratings": ratings,
            "confidence": np.array([self.confidence], dtype=np.int64),
            "familiarity": np.array([self.familiarity], dtype=np.int64),
            "end_chat": 0,
            "choice": int(np.argmax(ratings)),
            "satisfaction": np.array([3], dtype=np.int64),
        }

    def _reply(self, stance: np.ndarray, favourite: int) -> str:
        if not stance.any():
            lines = NEUTRAL
        else:
            lines = AGREE if int(np.argmax(stance)) == favourite else DOUBT
        return lines[int(self.rng.integers(len(lines)))]

    def _ready_to_end(self, observation: Any) -> int:
        if not observation["end_chat_mask"][1]:
            return 0
        exchange = int(observation["exchange"])
        if self.allowed_since < 0:
            self.allowed_since = exchange
        return int(exchange - self.allowed_since >= self.patience)


def _parametric(env: Any, *, seed: int, patience: int = 0) -> ParametricParticipant:
    return ParametricParticipant(seed, patience=patience)


register_policy(
    ParametricParticipant.name,
    _parametric,
    envs=(ENV_ID,),
    summary="calibrated simulated participant: traits, stance- and tactic-driven rating updates",
)
