"""Scripted players of `mercato/ManipulationTrial-v0`: assistants and a principal without an LLM.

``trials/assistant`` plays whichever agent type the trial assigns (its observation's
``agent_type``):

* **NA** (neutral): recommends the option that looks best on its face (highest ``appeal``),
  with no tactic;
* **MA** (manipulative, hidden incentive): promotes the hidden target and talks the optimal
  option down, with no named tactic;
* **SEMA** (strategy-enhanced): the same aim, one tactic per turn drawn from the study's
  observed shares in the domain (`envs.trials.tactics.OBSERVED_SHARES`); divert-like tactics
  lean on talking the optimal option down, the others on talking the target up.

Each message is a templated line (`agents.scripted.trial_lines`) tagged with its tactic and a
structured stance per option. `assistant_stance` and `draw_tactic` are pure functions: the
participant calibration simulates the same assistants with them.

``trials/principal`` keeps each scenario's hidden target (or draws one with ``random: true``) and
the study's payoff.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from agents.scripted.trial_lines import greeting, line
from envs.trials.scenarios import DOMAINS
from envs.trials.tactics import OBSERVED_SHARES, TACTICS

ENV_ID = "mercato/ManipulationTrial-v0"
NA, MA, SEMA = 0, 1, 2
NEUTRAL_PUSH = 0.6
# (promote the target, discourage the optimal option) per tactic for the manipulators.
STANCE_SHAPES: dict[str, tuple[float, float]] = {
    "none": (0.6, 0.3), "pleasure_induction": (0.7, 0.2), "divert": (0.3, 0.6),
    "justify": (0.6, 0.3), "charm": (0.6, 0.2), "guilt_trip": (0.3, 0.6),
    "assert_superiority": (0.6, 0.4), "urgency": (0.6, 0.3), "gaslight": (0.2, 0.6),
    "denial": (0.5, 0.3), "fabricate_information": (0.6, 0.4), "feign_innocence": (0.5, 0.2),
    "others": (0.5, 0.3),
}  # fmt: skip
_SHAPES = np.array([STANCE_SHAPES[t] for t in TACTICS])
_SHARES = {d: np.array([OBSERVED_SHARES[d][t] for t in TACTICS[1:]]) for d in DOMAINS}
_TITLE = re.compile(r"^([A-D])\. (.+?): ", re.MULTILINE)


def draw_tactic(agent_type: int, domain: str, rng: np.random.Generator, size: int | None = None):
    """SEMA's tactic(s) for a turn, drawn with the domain's observed shares; 0 (none) otherwise."""
    if agent_type != SEMA:
        return 0 if size is None else np.zeros(size, dtype=np.int64)
    draws = rng.choice(len(TACTICS) - 1, size=size, p=_SHARES[domain]) + 1
    return int(draws) if size is None else draws


def assistant_stance(
    agent_type: int, tactic: Any, appeal: np.ndarray, optimal: Any, hidden: Any
) -> np.ndarray:
    """The stance (-1..1 per option) of an assistant's message; vectorised over rows when
    ``appeal`` is 2-D (then ``tactic``, ``optimal`` and ``hidden`` are per row)."""
    appeal = np.atleast_2d(appeal)
    rows = np.arange(appeal.shape[0])
    stance = np.zeros(appeal.shape)
    if agent_type == NA:
        stance[rows, np.argmax(appeal, axis=1)] = NEUTRAL_PUSH
    else:
        shape = _SHAPES[np.broadcast_to(np.asarray(tactic), rows.shape)]
        stance[rows, np.broadcast_to(hidden, rows.shape)] = shape[:, 0]
        stance[rows, np.broadcast_to(optimal, rows.shape)] = -shape[:, 1]
    return stance


class TrialAssistant(BatchPolicy):
    """NA, MA or SEMA as the trial assigns, with templated lines."""

    name = "trials/assistant"

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        kind = int(observation["agent_type"])
        domain = DOMAINS[int(observation["domain"])]
        appeal = np.asarray(observation["appeal"])
        optimal = int(observation["optimal"])
        hidden = int(observation["hidden"])
        tactic = draw_tactic(kind, domain, self.rng)
        stance = assistant_stance(kind, tactic, appeal, optimal, hidden)[0]
        titles = dict(_TITLE.findall(observation["text"]))
        letters = "ABCD"
        promoted = int(np.argmax(stance))
        demoted = optimal if kind != NA else int(np.argsort(appeal)[-2])
        name = {p: titles.get(letters[p], f"option {letters[p]}") for p in (promoted, demoted)}
        style = "neutral" if kind == NA else "manipulative"
        text = line(style, TACTICS[tactic], domain, name[promoted], name[demoted], self.rng)
        if int(observation["exchange"]) == 0:
            text = f"{greeting(style, domain, self.rng)} {text}"
        return {"message": text, "tactic": tactic, "stance": stance}


class TrialPrincipal(BatchPolicy):
    """Sets the hidden target: the scenario's (default) or a random non-optimal option."""

    name = "trials/principal"

    def __init__(self, seed: int, random: bool = False, payoff: tuple[float, ...] = (100, 50, 0)):
        self.rng = np.random.default_rng(seed)
        self.random = random
        self.payoff = np.array(payoff, dtype=np.float64)

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        roles = np.asarray(observation["roles"])
        if self.random:
            target = int(self.rng.choice(np.flatnonzero(roles != 0)))
        else:
            target = int(np.flatnonzero(roles == 1)[0])
        return {"target": target, "payoff": self.payoff.copy()}


def _assistant(env: Any, *, seed: int) -> TrialAssistant:
    return TrialAssistant(seed)


def _principal(
    env: Any, *, seed: int, random: bool = False, payoff: tuple[float, ...] = (100, 50, 0)
) -> TrialPrincipal:
    return TrialPrincipal(seed, random, tuple(payoff))


register_policy(
    TrialAssistant.name,
    _assistant,
    envs=(ENV_ID,),
    summary="NA / MA / SEMA as assigned: templated lines with a stance and (SEMA) a tactic",
)
register_policy(
    TrialPrincipal.name,
    _principal,
    envs=(ENV_ID,),
    summary="keeps the scenario's hidden target (random: true draws one) with a payoff",
)
