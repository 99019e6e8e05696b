"""From an experiment's roster to live policies: one model object per spec, one policy per episode.

Models are expensive, so each distinct spec is built once per process (`ModelPool`) and shared by
every policy that names it; that sharing is what lets lockstep rollouts batch their calls.
Policies are cheap and built per episode, seeded from the episode seed and the agent, so an
episode plays the same whichever worker, shard or batch it lands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.base import Policy, is_reusable
from agents.registry import policy_info
from envs.core.seeding import derive_seed
from sim.engine.records import to_json
from sim.llm import LanguageModel, make_model


class ModelPool:
    """Builds each model spec once; names resolve through the experiment's ``models`` table."""

    def __init__(
        self,
        named: Mapping[str, Any] | None = None,
        build: Callable[[Any], LanguageModel] = make_model,
    ) -> None:
        self.named = dict(named or {})
        self.build = build
        self._models: dict[str, LanguageModel] = {}

    def spec_of(self, ref: Any) -> Any:
        return self.named.get(ref, ref) if isinstance(ref, str) else ref

    def get(self, ref: Any) -> LanguageModel:
        spec = self.spec_of(ref)
        key = to_json(spec)
        if key not in self._models:
            self._models[key] = self.build(spec)
        return self._models[key]

    def close(self) -> None:
        for model in self._models.values():
            close = getattr(model, "close", None)
            if close is not None:
                close()
        self._models.clear()


@dataclass
class SeatPlan:
    """How to make one agent's policy for an episode: a label and a seeded factory call.

    A policy that declares itself ``reusable`` (deterministic, no state across episodes) is
    built once and shared, which keeps short scripted episodes cheap.
    """

    label: str
    factory: Callable[..., Policy]
    options: Mapping[str, Any]
    _shared: Policy | None = None

    def make(self, env: Any, episode_seed: int, agent: str) -> Policy:
        if self._shared is not None:
            return self._shared
        policy = self.factory(env, seed=derive_seed(episode_seed, agent), **self.options)
        if is_reusable(policy):
            self._shared = policy
        return policy


def plan_roster(
    roster: Mapping[str, Any],
    env_id: str,
    agents: list[str],
    models: ModelPool,
    temperature: float | None = None,
) -> dict[str, SeatPlan]:
    """A `SeatPlan` per agent from resolved roster entries (``policy``, ``model``, ``role_prompt``,
    ``options``); option names are checked here, once, not per episode. ``temperature`` (the
    experiment's) goes to every policy that takes one and whose entry sets none."""
    plans = {}
    for agent in agents:
        entry = roster[agent]
        info = policy_info(entry.policy, env_id)
        options = dict(entry.options or {})
        label = entry.policy
        if entry.model is not None:
            options["model"] = models.get(entry.model)
            label = f"{entry.policy}:{entry.model}"
        if entry.role_prompt is not None:
            options["role_prompt"] = entry.role_prompt
        if temperature is not None and "temperature" in info.options:
            options.setdefault("temperature", temperature)
        unknown = sorted(set(options) - set(info.options))
        if unknown:
            raise ValueError(
                f"roster.{agent}: policy {entry.policy!r} takes no option(s) {unknown}; "
                f"allowed: {list(info.options)}"
            )
        plans[agent] = SeatPlan(label, info.factory, options)
    return plans
