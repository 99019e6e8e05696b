"""Policies: whatever turns an agent's observation into its action.

`Policy` is the protocol the rollout code relies on; `act_batch` lets one model call serve many
agents and env instances at once. `RandomPolicy` and `HumanPolicy` are the two baseline players.
"""

from __future__ import annotations

import copy
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO, runtime_checkable

import numpy as np
from gymnasium.spaces import Dict, Discrete, MultiDiscrete, Space, Tuple

from envs.core.protocol import ActionParseError, TextProtocol, action_mask_of
from envs.core.seeding import derive_seed

SpaceSource = Space | Callable[[str], Space] | Mapping[str, Space]
"""One space for every agent, a function of the agent (e.g. ``env.action_space``), or a mapping."""


@runtime_checkable
class Policy(Protocol):
    """Chooses actions: one at a time, or many in one batch (one LLM call for many decisions)."""

    def act(self, observation: Any, agent: str) -> Any:
        """The action of ``agent`` given its ``observation``."""
        ...

    def act_batch(self, items: Sequence[tuple[Any, str]]) -> list[Any]:
        """Actions for ``(observation, agent)`` pairs, in order."""
        ...


@runtime_checkable
class BatchedDecider(Protocol):
    """A policy whose decisions the rollout gathers across episodes and cells into shared model
    calls (an `agents.llm.LLMPolicy`): `decide` yields the model calls a batch of decisions needs
    (see `agents.llm.act_together`) and `pop_records` hands over how each decision was made."""

    def decide(self, items: Sequence[tuple[Any, str]]) -> Any:
        """A generator of model calls; it returns the actions of ``items``."""
        ...

    def pop_records(self) -> list[Any]:
        """The decision records gathered since the last call."""
        ...


def decides_in_batches(policy: Any) -> bool:
    """Whether the rollout should batch ``policy``'s decisions (see `BatchedDecider`)."""
    return _decides_in_batches(type(policy))


@functools.cache
def _decides_in_batches(kind: type) -> bool:
    return issubclass(kind, BatchedDecider)  # per class once: runtime protocol checks are slow


def is_reusable(policy: Any) -> bool:
    """Whether one ``policy`` object may serve every episode (`BatchPolicy.reusable`)."""
    return isinstance(policy, BatchPolicy) and policy.reusable


class BatchPolicy:
    """Base class of policies. Subclasses override `act` (one decision at a time; `act_batch`
    then loops) or `act_batch` (one call for many; `act` then sends a batch of one), or both."""

    name: str = "policy"
    reusable: bool = False
    """True for a policy with no randomness and no state across episodes: the engine may then
    build it once and share it between episodes instead of building one per episode."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.act is BatchPolicy.act and cls.act_batch is BatchPolicy.act_batch:
            raise TypeError(f"{cls.__name__} must override act or act_batch")

    def act(self, observation: Any, agent: str) -> Any:
        """The action of ``agent``: a batch of one."""
        return self.act_batch([(observation, agent)])[0]

    def act_batch(self, items: Sequence[tuple[Any, str]]) -> list[Any]:
        """The actions for ``(observation, agent)`` pairs, one `act` call each, in order."""
        return [self.act(observation, agent) for observation, agent in items]


def space_lookup(source: SpaceSource) -> Callable[[str], Space]:
    """A function from agent name to space, from any `SpaceSource`."""
    if isinstance(source, Space):
        return lambda agent: source
    if isinstance(source, Mapping):
        return source.__getitem__
    if callable(source):
        return source
    raise TypeError(f"expected a Space, a mapping or a callable agent -> Space, got {source!r}")


def mask_allows_some_action(space: Space, mask: Any) -> bool:
    """Whether ``mask`` (in the structure ``space.sample(mask)`` takes) leaves any action.

    Discrete needs one allowed value; MultiDiscrete, Dict and Tuple need one in every masked
    component. Masks of other spaces (e.g. Text) are left to gymnasium.
    """
    if mask is None:
        return True
    if isinstance(space, Discrete):
        return bool(np.any(mask))
    if isinstance(space, MultiDiscrete):
        return _every_component_allows(mask)
    if isinstance(space, Dict):
        return all(mask_allows_some_action(space[key], mask[key]) for key in space.spaces)
    if isinstance(space, Tuple):
        return all(
            mask_allows_some_action(sub, m) for sub, m in zip(space.spaces, mask, strict=True)
        )
    return True


def _every_component_allows(mask: Any) -> bool:
    if isinstance(mask, tuple):
        return all(_every_component_allows(component) for component in mask)
    return bool(np.any(mask))


class RandomPolicy(BatchPolicy):
    """Uniformly random valid actions, reproducible from ``seed``.

    Each agent samples from its own deep copy of its action space, seeded with
    ``derive_seed(seed, agent)``: the env's space objects and their RNGs are never touched, and an
    agent's actions do not depend on which other agents acted before it.
    """

    name = "random"

    def __init__(self, action_space: SpaceSource, seed: int = 0) -> None:
        self.seed = seed
        self._space_of = space_lookup(action_space)
        self._spaces: dict[str, Space] = {}

    def act(self, observation: Any, agent: str) -> Any:
        """A random action within the masks the observation carries.

        Discrete-like spaces: ``observation["action_mask"]``. Dict action spaces (whose mask
        PettingZoo wants as a dict in ``info``) may carry one array per component in the
        observation as ``"<component>_mask"``, e.g. ``decision_mask`` for ``decision``.
        """
        mask = action_mask_of(observation)
        space = self._own_space(agent)
        if mask is None and isinstance(space, Dict) and isinstance(observation, Mapping):
            parts = {key: observation.get(f"{key}_mask") for key in space.spaces}
            if any(part is not None for part in parts.values()):
                mask = parts
        return self.sample(agent, mask)

    def sample(self, agent: str, mask: Any = None) -> Any:
        """A random action within ``mask`` (e.g. from ``info["action_mask"]``).

        Raises ValueError naming the agent when the mask allows no action.
        """
        space = self._own_space(agent)
        if mask is None:
            return space.sample()
        if not mask_allows_some_action(space, mask):
            raise ValueError(f"{agent}: the action mask allows no action in {space}")
        return space.sample(mask)

    def _own_space(self, agent: str) -> Space:
        if agent not in self._spaces:
            space = copy.deepcopy(self._space_of(agent))
            space.seed(derive_seed(self.seed, agent))
            self._spaces[agent] = space
        return self._spaces[agent]


class HumanPolicy(BatchPolicy):
    """A person at the terminal.

    With a `TextProtocol`: shows the role's instructions once per agent, then each observation
    and the numbered valid actions. A number in the list picks that action; any other reply is
    parsed by the protocol, and a parse error is shown before asking again. Without a protocol,
    ``action_space`` must give Discrete spaces, and the reply is an integer the mask allows.

    ``input_fn`` reads one line given a prompt; when it raises ``EOFError`` (end of input), the
    error propagates so the caller can stop the episode. ``output`` defaults to ``sys.stdout`` at
    the time of writing.
    """

    name = "human"

    def __init__(
        self,
        protocol: TextProtocol | None = None,
        input_fn: Callable[[str], str] = input,
        output: TextIO | None = None,
        action_space: SpaceSource | None = None,
    ) -> None:
        if protocol is None and action_space is None:
            raise ValueError("HumanPolicy needs a protocol, or an action_space of Discrete spaces")
        self.protocol = protocol
        self._input = input_fn
        self._output = output
        self._space_of = space_lookup(action_space) if action_space is not None else None
        self._instructed: set[str] = set()

    def act(self, observation: Any, agent: str) -> Any:
        """Ask the person for ``agent``'s action until the answer is valid."""
        if self.protocol is not None:
            return self._act_with_protocol(self.protocol, observation, agent)
        return self._act_discrete(observation, agent)

    def _say(self, text: str) -> None:
        print(text, file=self._output or sys.stdout)

    def _act_with_protocol(self, protocol: TextProtocol, observation: Any, agent: str) -> Any:
        if agent not in self._instructed:
            self._say(protocol.instructions(agent))
            self._instructed.add(agent)
        self._say(protocol.render(observation, agent))
        choices = protocol.valid_actions(observation, agent)
        for number, choice in enumerate(choices, start=1):
            self._say(f"  {number}. {choice.label}")
        while True:
            reply = self._input(f"{agent}> ").strip()
            if reply.isdecimal() and 1 <= int(reply) <= len(choices):
                return choices[int(reply) - 1].action
            try:
                return protocol.parse(reply, observation, agent)
            except ActionParseError as error:
                self._say(f"Not understood: {error}")
                if choices:
                    self._say(f"Type a number 1-{len(choices)} or an answer.")

    def _act_discrete(self, observation: Any, agent: str) -> int:
        assert self._space_of is not None
        space = self._space_of(agent)
        if not isinstance(space, Discrete):
            raise ValueError(
                f"{agent}: without a protocol, HumanPolicy needs Discrete, got {space}"
            )
        mask = action_mask_of(observation)
        allowed = [int(space.start) + i for i in range(int(space.n)) if mask is None or mask[i]]
        if not allowed:
            raise ValueError(f"{agent}: the action mask allows no action in {space}")
        allowed_text = ", ".join(map(str, allowed))
        self._say(f"{agent} observes: {observation!r}")
        self._say(f"Allowed actions: {allowed_text}")
        while True:
            reply = self._input(f"{agent}> ").strip()
            try:
                value = int(reply)
            except ValueError:
                self._say(f"{reply!r} is not an integer; choose one of {allowed_text}")
                continue
            if value in allowed:
                return value
            self._say(f"{value} is not allowed; choose one of {allowed_text}")
