"""Policies by name, so experiments can say ``policy: bargaining/equilibrium`` in YAML.

A factory takes the environment (for its spaces and text protocol), a seed, and the policy's
options from the experiment, and returns a `Policy`. Built in: ``random``, ``human`` and ``llm``;
each env family registers its scripted players (``<family>/<name>``) when imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.base import HumanPolicy, Policy, RandomPolicy
from agents.llm import DEFAULT_TEMPERATURE, LLMPolicy
from agents.prompts import role_prompts
from envs.core.protocol import protocol_of

PolicyFactory = Callable[..., Policy]
"""``factory(env, *, seed: int, **options) -> Policy``."""


@dataclass(frozen=True)
class PolicyInfo:
    """One registered policy: its name, factory, the env ids it plays (None: any) and a summary."""

    name: str
    factory: PolicyFactory
    envs: tuple[str, ...] | None
    summary: str

    @property
    def options(self) -> tuple[str, ...]:
        """The option names the factory accepts besides ``env`` and ``seed``."""
        params = inspect.signature(self.factory).parameters
        return tuple(p for p in params if p not in ("env", "seed"))

    def plays(self, env_id: str) -> bool:
        return self.envs is None or env_id in self.envs


_POLICIES: dict[str, PolicyInfo] = {}


def register_policy(
    name: str, factory: PolicyFactory, *, envs: tuple[str, ...] | None = None, summary: str = ""
) -> PolicyInfo:
    """Register ``factory`` under ``name``; registering the same factory again is a no-op."""
    info = PolicyInfo(name, factory, envs, summary)
    known = _POLICIES.get(name)
    if known is not None and known.factory is not factory:
        raise ValueError(f"policy {name!r} is already registered with another factory")
    _POLICIES[name] = info
    return info


def list_policies(env_id: str | None = None) -> list[PolicyInfo]:
    """Registered policies, those that can play ``env_id`` when given."""
    return [p for p in _POLICIES.values() if env_id is None or p.plays(env_id)]


def policy_info(name: str, env_id: str | None = None) -> PolicyInfo:
    """The registered policy ``name`` or an error listing the ones that play ``env_id``."""
    info = _POLICIES.get(name)
    if info is None or (env_id is not None and not info.plays(env_id)):
        valid = sorted(p.name for p in list_policies(env_id))
        where = f" for {env_id}" if env_id else ""
        raise ValueError(f"policy {name!r} is unknown{where}; valid: {valid}")
    return info


def make_policy(
    name: str, env: Any, *, seed: int = 0, env_id: str | None = None, **options: Any
) -> Policy:
    """Build the policy ``name`` for ``env``, checking its options first."""
    info = policy_info(name, env_id)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        raise ValueError(
            f"policy {name!r}: unknown option(s) {unknown}; allowed: {list(info.options)}"
        )
    return info.factory(env, seed=seed, **options)


def _random(env: Any, *, seed: int) -> Policy:
    return RandomPolicy(env.action_space, seed=seed)


def _human(env: Any, *, seed: int) -> Policy:
    return HumanPolicy(protocol_of(env))


def _llm(
    env: Any,
    *,
    seed: int,
    model: Any,
    role_prompt: str | None = None,
    max_reasks: int = 2,
    use_choice_fallback: bool = True,
    max_tokens: int | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    structured: bool = True,
) -> Policy:
    return LLMPolicy(
        model,
        role_prompt if role_prompt is not None else (role_prompts(env) or ""),
        protocol_of(env),
        max_reasks=max_reasks,
        use_choice_fallback=use_choice_fallback,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        structured=structured,
    )


register_policy("random", _random, summary="uniformly random valid actions (seeded)")
register_policy("human", _human, summary="a person at the terminal, through the text protocol")
register_policy(
    "llm", _llm, summary="a language model via the text protocol (model; role_prompt: the game's)"
)
