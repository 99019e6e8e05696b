"""The ``opponents=`` of a single-agent view, read exactly as an experiment's ``roster``.

Keys are agent names (``seller_0``) or roles (``seller``); each value is a registered policy
name or a mapping ``{policy, model, role_prompt, options}`` (`agents.roster`): so
``{"seller": {"policy": "llm", "model": "fake"}}`` seats the fake model, and a bare ``"llm"``
is refused in one line naming ``opponents.seller.model`` and the spec forms. Each distinct model
spec is built once per view and shared by every episode's policies. Roles the user does not
name keep the view's declared opponents. Core-install only: no engine (pydantic) imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agents.registry import PolicyInfo, policy_info
from agents.roster import SeatEntry, check_entry, read_entry
from envs.core.names import role_of
from envs.core.registry import spec_of
from envs.core.seeding import derive_seed
from sim.llm import LanguageModel, make_model


@dataclass(frozen=True)
class Opponent:
    """How to seat one opponent each episode: its entry, policy and factory options."""

    entry: SeatEntry
    info: PolicyInfo
    options: Mapping[str, Any]

    def make(self, env: Any, episode_seed: int, agent: str) -> Any:
        """The policy for one episode, seeded from the episode seed and the agent."""
        return self.info.factory(env, seed=derive_seed(episode_seed, agent), **self.options)


def read_opponents(
    opponents: Mapping[str, Any] | None, path: str = "opponents"
) -> dict[str, SeatEntry]:
    """``opponents`` as `SeatEntry` values (a ValueError line naming a malformed entry)."""
    if opponents is None:
        return {}
    if not isinstance(opponents, Mapping):
        raise ValueError(
            f"{path}: expected a mapping of agent names or roles to policies, got "
            f"{type(opponents).__name__}"
        )
    return {key: read_entry(value, f"{path}.{key}") for key, value in opponents.items()}


def plan_opponents(
    opponents: Mapping[str, Any] | None,
    env_id: str,
    agents: Sequence[str],
    learner: str,
    models: dict[str, LanguageModel],
) -> dict[str, Opponent]:
    """An `Opponent` for every agent but ``learner``: ``opponents`` by agent name, then by role,
    then the view's declared opponents; ``models`` caches built models by spec."""
    declared = _declared(env_id, learner)
    given = read_opponents(opponents)
    roles = sorted({role_of(agent) for agent in agents})
    for key in given:  # a declared role may be absent under some params (the trial's principal)
        if key not in agents and key not in roles and key not in declared:
            raise ValueError(
                f"opponents.{key}: no such agent or role in {env_id}; agents: {list(agents)}; "
                f"roles: {roles}"
            )
    layers = (given, read_opponents(declared, "declared opponents"))
    seated = {}
    for agent in agents:
        if agent == learner:
            continue
        for layer in layers:
            key = agent if agent in layer else role_of(agent)
            if key in layer:
                seated[agent] = _opponent(layer[key], env_id, f"opponents.{key}", models)
                break
        else:
            raise ValueError(
                f"opponents: no policy for {agent!r} (by name or role {role_of(agent)!r})"
            )
    return seated


def _opponent(
    entry: SeatEntry, env_id: str, where: str, models: dict[str, LanguageModel]
) -> Opponent:
    try:
        info = policy_info(entry.policy, env_id)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    check_entry(entry, info, {}, where)
    options = dict(entry.options)
    if entry.model is not None:
        if entry.model not in models:
            models[entry.model] = make_model(entry.model)
        options["model"] = models[entry.model]
    if entry.role_prompt is not None:
        options["role_prompt"] = entry.role_prompt
    return Opponent(entry, info, options)


def _declared(env_id: str, learner: str) -> dict[str, Any]:
    """The opponents the env's spec declares for a view of ``learner`` (none if no such view)."""
    for view in spec_of(env_id).views:
        if view.learner == learner:
            return dict(view.opponents)
    return {}
