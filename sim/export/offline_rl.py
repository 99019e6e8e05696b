"""Minari datasets: one agent's single-agent view of a run, for offline RL.

Minari has no multi-agent format, so a dataset holds one agent's episodes: its observations
(rebuilt in the env's observation space for that agent, the final row's included, so there is one
more observation than actions), its actions (rebuilt in its action space), the reward that
followed each action (the next row's reward: rows carry what arrived since the agent's previous
turn), and the final row's termination and truncation. Buffers are built directly as
`minari.data_collector.EpisodeBuffer`s (Minari's `DataCollector` wrapper needs jax).

The dataset's ``env_spec`` is the registered Gymnasium view of the agent's role
(``mercato/Bargaining-Bob-v0``) set to the first exported cell's parameters and scripted players,
so ``dataset.recover_environment()`` gives the env the data came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from envs.core.names import role_of
from sim.export.decisions import RunData, load_run
from sim.export.errors import ExportError
from sim.export.rehydrate import from_json


@dataclass(frozen=True)
class MinariEpisodes:
    """What `create_dataset_from_buffers` needs for one agent, and where each buffer came from."""

    dataset_id: str
    agent: str
    buffers: list[Any]
    episode_ids: list[str]
    observation_space: spaces.Space[Any]
    action_space: spaces.Space[Any]
    algorithm_name: str
    description: str
    env_spec: EnvSpec | None = None
    """The agent's Gymnasium view as set up in the run (None: its role has no view)."""
    env_note: str = ""
    """What ``recover_environment()`` gives, in words, for the dataset card."""

    @property
    def steps(self) -> int:
        return sum(len(buffer.rewards) for buffer in self.buffers)


def minari_episodes(
    run: str | os.PathLike[str] | RunData,
    agent: str | None = None,
    *,
    cells: Sequence[str] | None = None,
    dataset_id: str | None = None,
) -> MinariEpisodes:
    """The episode buffers of ``agent``'s view of ``run`` (every cell it plays, or ``cells``)."""
    from minari.data_collector import EpisodeBuffer

    data = load_run(run)
    agent = _the_agent(data, agent)
    played = [c for c, cell in data.cells.items() if agent in cell.get("roster", {})]
    chosen = [c for c in played if cells is None or c in cells]
    unknown = sorted(set(cells or ()) - set(data.cells))
    if unknown or not chosen:
        raise ExportError(f"{agent} plays in cells {played}; got cells {list(cells or [])}")
    observation_space, action_space = _spaces(data, agent, chosen)
    steps = data.steps
    rows = steps[(steps["agent"] == agent)]
    episodes = data.episodes[data.episodes["cell_id"].isin(chosen)]
    by_episode = dict(tuple(rows.groupby("episode_id", sort=False)))
    buffers, episode_ids, policies = [], [], set()
    for episode in episodes.itertuples(index=False):
        table = by_episode.get(episode.episode_id)
        if table is None or not table["action"].notna().any():
            continue
        parts = _episode(table.sort_values("step"), observation_space, action_space)
        buffers.append(EpisodeBuffer(id=len(buffers), seed=int(episode.seed), **parts))
        episode_ids.append(episode.episode_id)
        policies.add(str(table["policy"].dropna().iloc[0]) if table["policy"].notna().any() else "")
    if not buffers:
        raise ExportError(f"run {data.run_id}: {agent} took no action in cells {chosen}")
    algorithm = ", ".join(sorted(p for p in policies if p)) or "unknown"
    env_spec, env_note = view_spec(data, agent, chosen[0])
    env_name = data.env_id.split("/")[-1].rsplit("-v", 1)[0]
    dataset_id = (
        dataset_id or f"mercato/{_id_part(env_name)}-{_id_part(agent)}/{_id_part(data.name)}-v0"
    )
    description = (
        f"{agent}'s view of {data.env_id} from mercato run {data.run_id}: {len(buffers)} "
        f"episode(s) of cells {chosen}, played by {algorithm}. Observations and actions are the "
        "env's own spaces; each reward is what followed the action (the agent's rewards sum to "
        "its episode return)."
    )
    return MinariEpisodes(
        dataset_id, agent, buffers, episode_ids, observation_space, action_space, algorithm,
        description, env_spec, env_note,
    )  # fmt: skip


def view_spec(data: RunData, agent: str, cell_id: str) -> tuple[EnvSpec | None, str]:
    """The registered view of ``agent``'s role (learner: ``agent``) with the cell's parameters
    and its other players where they are scripted, and a sentence saying what it holds."""
    import gymnasium

    from envs.core.registry import spec_of

    try:
        views = spec_of(data.env_id).views
    except ValueError:
        views = ()
    view = next((v for v in views if v.learner == agent), None) or next(
        (v for v in views if role_of(v.learner) == role_of(agent)), None
    )
    if view is None:
        return None, f"{data.env_id} has no Gymnasium view for {agent}: no env to recover"
    view_id = f"mercato/{view.name}"
    registered = gymnasium.spec(view_id)
    cell = data.cells[cell_id]
    params = {k: v for k, v in cell["params"].items() if k != "render_mode"}
    others = {a: e for a, e in cell["roster"].items() if a != agent}
    llm = sorted(a for a, e in others.items() if e.get("model") is not None)
    opponents: dict[str, Any] = dict(view.opponents)
    if not llm:  # the run's own players; language-model players stay the view's defaults
        opponents = {a: _opponent(e) for a, e in others.items()}
    kwargs = {**registered.kwargs, "learner": agent, "opponents": opponents,
              "params": {**view.params, **params}}  # fmt: skip
    seated = (
        f"the view's default opponents {dict(view.opponents)} in place of the run's "
        f"language-model player(s) {llm}"
        if llm
        else "the run's other players"
    )
    note = (
        f"`recover_environment()` makes `{view_id}` with {agent} learning, cell {cell_id}'s "
        f"parameters and {seated}"
    )
    return dataclasses.replace(registered, kwargs=kwargs), note


def _opponent(entry: dict[str, Any]) -> Any:
    """A roster entry as the view's ``opponents`` takes it: a name, or ``{policy, options}``."""
    options = entry.get("options") or {}
    return {"policy": entry["policy"], "options": options} if options else entry["policy"]


def write_minari(episodes: MinariEpisodes, root: Path) -> Any:
    """Create the dataset under ``root`` (as ``MINARI_DATASETS_PATH``) and return it."""
    import minari

    with _datasets_path(root), warnings.catch_warnings():
        # it asks for a code permalink and an email: neither exists for a run's data
        warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\.")
        try:
            minari.create_dataset_from_buffers(
                episodes.dataset_id,
                episodes.buffers,
                env=episodes.env_spec,
                observation_space=episodes.observation_space,
                action_space=episodes.action_space,
                algorithm_name=episodes.algorithm_name,
                author="mercato",
                description=episodes.description,
                data_format="arrow",
            )
        except ValueError as error:
            raise ExportError(
                f"minari refused the dataset {episodes.dataset_id}: {error}"
            ) from None
    return root


def stack(space: spaces.Space[Any], values: list[Any]) -> Any:
    """A list of space members as the column layout Minari's storage takes (Dicts of columns)."""
    if isinstance(space, spaces.Dict):
        return {key: stack(sub, [v[key] for v in values]) for key, sub in space.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(stack(sub, [v[i] for v in values]) for i, sub in enumerate(space.spaces))
    if isinstance(space, spaces.Box | spaces.MultiBinary | spaces.MultiDiscrete):
        return np.stack([np.asarray(v, dtype=space.dtype) for v in values])
    if isinstance(space, spaces.Discrete):
        return np.asarray(values, dtype=space.dtype)
    return list(values)


@contextlib.contextmanager
def _datasets_path(root: Path) -> Iterator[None]:
    """``MINARI_DATASETS_PATH`` pointed at ``root`` for the duration, then restored; absolute,
    since Minari joins the root into paths it then resolves again (a relative root doubles)."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def _the_agent(data: RunData, agent: str | None) -> str:
    if agent is None:
        if len(data.agents) == 1:
            return data.agents[0]
        raise ExportError(
            f"minari datasets are single-agent; pass --agent one of {data.agents} to export that "
            "agent's view (or use sft/dpo/kto for multi-agent data)"
        )
    if agent not in data.agents:
        raise ExportError(f"unknown agent {agent!r}; this run has {data.agents}")
    return agent


def _spaces(data: RunData, agent: str, cells: list[str]) -> tuple[Any, Any]:
    """The agent's spaces, which must be the same in every exported cell."""
    from sim.engine.batch import make_env

    found: dict[str, tuple[Any, Any]] = {}
    for cell_id in cells:
        env = make_env(data.env_id, data.cells[cell_id]["params"])
        found[cell_id] = (env.observation_space(agent), env.action_space(agent))
        env.close()
    first = next(iter(found.values()))
    differ = [c for c, pair in found.items() if pair != first]
    if differ:
        raise ExportError(
            f"{agent}'s spaces differ between cells {cells} (e.g. {cells[0]} and {differ[0]}); a "
            f"minari dataset has one space: pass --cell one of {cells}"
        )
    return first


def _episode(table: pd.DataFrame, observation_space: Any, action_space: Any) -> dict[str, Any]:
    """One episode's buffer fields from the agent's rows (decisions, then its final row)."""
    table = table.sort_values("step").reset_index(drop=True)
    acted = [int(i) for i in np.flatnonzero(table["action"].notna().to_numpy())]
    last = table.iloc[-1]
    where = f"{last['episode_id']} ({last['agent']})"
    observations = [
        from_json(table.at[i, "observation"], observation_space, f"{where} observation")
        for i in acted
    ]
    actions = [from_json(table.at[i, "action"], action_space, f"{where} action") for i in acted]
    done = pd.isna(last["action"])
    final = last["observation"] if done else None
    # a final row without an observation (an agent a Parallel env dropped) repeats the last one
    observations.append(
        from_json(final, observation_space, f"{where} final observation")
        if isinstance(final, str) and final != "null"
        else observations[-1]
    )
    rewards = table["reward"].fillna(0.0).astype(float).tolist()
    # row i's reward arrived since the agent's previous turn: action k earned the rows after it,
    # up to and including the row of its next action (or the final row)
    bounds = [*acted, len(table)]
    earned = [sum(rewards[bounds[k] + 1 : bounds[k + 1] + 1]) for k in range(len(acted))]
    earned[0] += sum(rewards[: acted[0] + 1])  # received before the first action (usually 0)
    n = len(actions)
    return {
        "observations": stack(observation_space, observations),
        "actions": stack(action_space, actions),
        "rewards": earned,
        "terminations": [False] * (n - 1) + [done and _flag(last["terminated"])],
        "truncations": [False] * (n - 1) + [done and _flag(last["truncated"])],
    }


def _flag(value: Any) -> bool:
    return False if pd.isna(value) else bool(value)


def _id_part(text: str) -> str:
    """Text as a Minari id segment (letters, digits, ``_`` and ``-``)."""
    return re.sub(r"[^-\w]+", "-", text).strip("-") or "run"
