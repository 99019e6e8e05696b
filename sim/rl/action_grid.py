"""Discrete action grids for RL libraries: mercato's Dict actions as one ``Discrete(n)``.

mercato's action spaces mix a decision (``Discrete``), amounts (``Box``) and free text (``Text``),
which standard RL code (Stable-Baselines3, RLlib's default models) cannot sample. `ActionGrid`
enumerates a finite grid instead: every value of each Discrete component times ``bins`` evenly
spaced values of each scalar Box component (between its bounds, or the ``ranges`` you give where
the bounds are wide or infinite), with text components held fixed (empty by default). Index ``i``
decodes to one Dict action in the space; `ActionGrid.index_of` finds the grid point nearest any
action (to label scripted or logged play for behaviour cloning); `ActionGrid.mask` turns the
envs' ``info["action_mask"]`` into a mask over the grid (for masked PPO variants).

`DiscreteActions` applies a grid to a Gymnasium env; `MaskedObservation` over it puts the grid mask
in the observation too, PettingZoo's classic form ``{"observation": ..., "action_mask": int8}``
(opt-in, ``flat_view(..., mask_observation=True)``: the default flat Box stays what SB3's
``MlpPolicy`` takes). Grid actions the env's mask forbids are
still legal actions: every mercato env reads them as its docstring says (e.g. a responder's
"offer" counts as a rejection), so unmasked algorithms learn to avoid what does not pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box, Dict, Discrete, Space, Text


@dataclass(frozen=True)
class _Axis:
    """One component of the grid: its key and the values it takes, in index order."""

    key: str
    values: tuple[Any, ...]
    kind: str  # "discrete", "box" or "fixed"


class ActionGrid:
    """A finite grid of the Dict (or Discrete, or scalar Box) action space ``space``.

    ``bins``: values per scalar Box component (default 11: steps of 10% of its range);
    ``ranges``: ``{key: (low, high)}`` for Box components, overriding their bounds;
    ``fixed``: ``{key: value}`` components held at one value (text defaults to ``""``);
    ``choices``: ``{key: [values]}`` to restrict a Discrete component to some of its values.
    """

    def __init__(
        self,
        space: Space[Any],
        *,
        bins: int = 11,
        ranges: Mapping[str, tuple[float, float]] | None = None,
        fixed: Mapping[str, Any] | None = None,
        choices: Mapping[str, list[int]] | None = None,
    ) -> None:
        if bins < 2:
            raise ValueError(f"bins: expected an integer >= 2, got {bins}")
        self.space = space
        self._dict = isinstance(space, Dict)
        parts = space.spaces if isinstance(space, Dict) else {"action": space}
        ranges, fixed, choices = dict(ranges or {}), dict(fixed or {}), dict(choices or {})
        for name, given in (("ranges", ranges), ("fixed", fixed), ("choices", choices)):
            unknown = sorted(set(given) - set(parts))
            if unknown:
                raise ValueError(f"{name}: unknown action keys {unknown}; keys are {list(parts)}")
        self.axes = tuple(
            _axis(key, sub, bins, ranges.get(key), key in fixed, fixed.get(key), choices.get(key))
            for key, sub in parts.items()
        )
        self.shape = tuple(len(axis.values) for axis in self.axes)
        self.n = int(np.prod(self.shape))
        self.action_space = Discrete(self.n)
        self._points = np.stack(np.unravel_index(np.arange(self.n), self.shape), axis=1)

    def __call__(self, index: Any) -> Any:
        """The action at grid index ``index``."""
        position = np.unravel_index(int(index), self.shape)
        action = {
            axis.key: _value(axis, self.space, i)
            for axis, i in zip(self.axes, position, strict=True)
        }
        return action if self._dict else action["action"]

    def index_of(self, action: Any) -> int:
        """The grid index nearest ``action`` (exact on Discrete components, nearest on Boxes)."""
        values = action if self._dict else {"action": action}
        position = []
        for axis in self.axes:
            if axis.kind == "fixed":
                position.append(0)
            elif axis.kind == "discrete":
                wanted = int(np.asarray(values[axis.key]).ravel()[0])
                if wanted not in axis.values:
                    raise ValueError(f"{axis.key}: {wanted} is not on the grid {axis.values}")
                position.append(axis.values.index(wanted))
            else:
                amount = float(np.asarray(values[axis.key], dtype=float).ravel()[0])
                position.append(int(np.argmin(np.abs(np.asarray(axis.values) - amount))))
        return int(np.ravel_multi_index(position, self.shape))

    def mask(self, action_mask: Any) -> np.ndarray:
        """A bool mask over the grid from an env's ``action_mask`` (Dict of per-key masks, or
        one mask for a Discrete space; None allows everything)."""
        if action_mask is None:
            return np.ones(self.n, dtype=bool)
        masks = action_mask if self._dict else {"action": action_mask}
        allowed = np.ones(self.n, dtype=bool)
        for column, axis in enumerate(self.axes):
            key_mask = masks.get(axis.key) if isinstance(masks, Mapping) else None
            if axis.kind != "discrete" or key_mask is None:
                continue
            start = int(_discrete_part(self.space, axis.key).start)
            ok = np.array([bool(key_mask[v - start]) for v in axis.values])
            allowed &= ok[self._points[:, column]]
        return allowed


class DiscreteActions(gymnasium.ActionWrapper, gymnasium.utils.RecordConstructorArgs):
    """A Gymnasium env whose Dict actions are chosen from an `ActionGrid` as ``Discrete(n)``.

    ``action_masks()`` returns the grid mask of the current decision, the method
    sb3-contrib's ``MaskablePPO`` looks for.
    """

    def __init__(self, env: gymnasium.Env, **grid_options: Any) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self, **grid_options)
        gymnasium.ActionWrapper.__init__(self, env)
        self.grid = ActionGrid(env.action_space, **grid_options)
        self.action_space = self.grid.action_space
        self._mask: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._mask = info.get("action_mask")
        return observation, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(self.action(action))
        self._mask = info.get("action_mask")
        return observation, reward, terminated, truncated, info

    def action(self, action: Any) -> Any:
        return self.grid(action)

    def action_masks(self) -> np.ndarray:
        """The grid actions allowed now (all of them where the env gives no mask)."""
        return self.grid.mask(self._mask)


class MaskedObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """`DiscreteActions`' env with observations ``{"observation": obs, "action_mask": mask}``:
    the grid mask (int8, 1 = allowed) of the current decision, as PettingZoo's classic envs give
    it; ``info["action_mask"]`` stays the env's own."""

    def __init__(self, env: gymnasium.Env) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.ObservationWrapper.__init__(self, env)
        n = int(env.action_space.n)  # type: ignore[attr-defined]
        mask_space = Box(0, 1, shape=(n,), dtype=np.int8)
        self.observation_space = Dict(
            {"observation": env.observation_space, "action_mask": mask_space}
        )

    def observation(self, observation: Any) -> dict[str, Any]:
        return {"observation": observation, "action_mask": self.action_masks().astype(np.int8)}

    def action_masks(self) -> np.ndarray:
        """The grid actions allowed now (`DiscreteActions.action_masks`)."""
        return self.env.get_wrapper_attr("action_masks")()


def _discrete_part(space: Space[Any], key: str) -> Discrete:
    sub = space.spaces[key] if isinstance(space, Dict) else space
    assert isinstance(sub, Discrete)
    return sub


def _axis(
    key: str,
    sub: Space[Any],
    bins: int,
    bounds: tuple[float, float] | None,
    is_fixed: bool,
    fixed_value: Any,
    chosen: list[int] | None,
) -> _Axis:
    """The grid values of one action component (see `ActionGrid`)."""
    if is_fixed:
        return _Axis(key, (fixed_value,), "fixed")
    if isinstance(sub, Text):
        if sub.min_length > 0:
            raise ValueError(f"fixed: {key!r} is text of at least {sub.min_length} characters; "
                             "give it a fixed value")  # fmt: skip
        return _Axis(key, ("",), "fixed")
    if isinstance(sub, Discrete):
        everything = list(range(int(sub.start), int(sub.start + sub.n)))
        picked = everything if chosen is None else [int(v) for v in chosen]
        if not picked or any(v not in everything for v in picked):
            raise ValueError(f"choices: {key!r} takes values from {everything}, got {chosen}")
        return _Axis(key, tuple(picked), "discrete")
    if isinstance(sub, Box) and int(np.prod(sub.shape)) == 1:
        low, high = bounds if bounds is not None else (float(sub.low.flat[0]), sub.high.flat[0])
        if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
            raise ValueError(
                f"ranges: give {key!r} a finite range (low, high); its bounds are "
                f"[{sub.low.flat[0]}, {sub.high.flat[0]}]"
            )
        low, high = max(low, float(sub.low.flat[0])), min(high, float(sub.high.flat[0]))
        return _Axis(key, tuple(float(v) for v in np.linspace(low, high, bins)), "box")
    raise ValueError(f"fixed: action component {key!r} ({sub}) has no grid; give it a fixed value")


def _value(axis: _Axis, space: Space[Any], i: int) -> Any:
    """Grid value ``i`` of ``axis`` as an element of its component space."""
    value = axis.values[i]
    if axis.kind != "box":
        return np.int64(value) if axis.kind == "discrete" else value
    sub = space.spaces[axis.key] if isinstance(space, Dict) else space
    return np.full(sub.shape, value, dtype=sub.dtype)
