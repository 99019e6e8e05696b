"""Studies with people: a YAML study, its arms and the participants' book.

A study is an experiment whose cells are its arms and in which one seat is a person's::

    name: bargaining-pilot
    title: A bargaining game            # shown to participants (default: the name)
    participant: bob                    # the role a participant plays (agent bob_0)
    participants_per_arm: 20            # the experiment's episodes per cell
    consent: |                          # shown first; the participant must agree
      ...
    instructions: |                     # shown before the game
      ...
    abandon_after_s: 1800               # idle this long: abandoned, the slot goes to someone else
    env: mercato/Bargaining-v0          # then any experiment field but episodes and shard_size
    grid: {discount_alice: [0.5, 0.9]}  # arms: the grid's cells, then `cells`
    roster: {alice: bargaining/equilibrium}

Each arm has ``participants_per_arm`` slots, the experiment's episodes of that cell (their seeds
come from the plan, as in a simulated run). A participant is enrolled into a free slot of the arm
with the fewest slots taken (ties at random), keeps it while playing, and frees it by abandoning;
so every arm fills to the same size. The book keeps one JSON file per participant, written
atomically, so a restarted server knows everyone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import secrets
import time
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs.core.names import agent_named, role_of
from envs.core.registry import make_env
from sim.engine.cells import ExperimentError, describe_validation_error
from sim.engine.experiment import EpisodeSpec, Experiment, load_experiment, read_yaml_mapping
from sim.studio.human_seat import HUMAN

SET_BY_STUDY = ("episodes", "shard_size")
Status = Literal["invited", "enrolled", "consented", "playing", "completed", "abandoned"]
STATUSES: tuple[str, ...] = typing.get_args(Status)
HOLDS_SLOT: frozenset[str] = frozenset({"invited", "enrolled", "consented", "playing", "completed"})
IDLES_OUT: frozenset[str] = frozenset({"enrolled", "consented", "playing"})
"""Statuses whose idle clock runs: an invited link (made on the admin page, not yet opened)
waits for its person; from the first opening on, idling abandons."""


class StudyFields(BaseModel):
    """The fields a study adds to an experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    participant: str = Field(min_length=1)
    participants_per_arm: int = Field(ge=1, le=100_000)
    consent: str = Field(min_length=1, max_length=20_000)
    instructions: str = Field(min_length=1, max_length=20_000)
    title: str | None = Field(None, max_length=200)
    abandon_after_s: float = Field(1800.0, gt=0)


@dataclass(frozen=True)
class Study:
    """A validated study: its texts, the participant's agent and the experiment it runs."""

    fields: StudyFields
    agent: str
    experiment: Experiment

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def title(self) -> str:
        return self.fields.title or self.experiment.name

    def slots(self) -> list[EpisodeSpec]:
        """Every participant's episode: ``participants_per_arm`` per arm, arm by arm."""
        return list(self._slots)

    @functools.cached_property
    def _slots(self) -> tuple[EpisodeSpec, ...]:
        """Planned once (each enrolment reads them; planning hashes a seed per slot)."""
        return tuple(self.experiment.episode_specs())

    def arm_ids(self) -> list[str]:
        return [cell.cell_id for cell in self.experiment.cells()]


def load_study(source: str | Path | Mapping[str, Any]) -> Study:
    """Read and validate a study; every failure is one `ExperimentError` line naming the field."""
    if isinstance(source, Mapping):
        data, stem = dict(source), "study"
    else:
        data, stem = read_study_yaml(Path(source)), Path(source).stem
    study_data = {k: data.pop(k) for k in list(data) if k in StudyFields.model_fields}
    try:
        fields = StudyFields.model_validate(study_data)
    except ValidationError as error:
        raise ExperimentError(describe_validation_error(error, top=StudyFields)) from None
    for key in SET_BY_STUDY:
        if key in data:
            raise ExperimentError(
                f"{key}: set by the study (participants_per_arm), not in a study file"
            )
    data.setdefault("name", stem)
    data["episodes"], data["shard_size"] = fields.participants_per_arm, 1
    agent = _participant_agent(data, fields.participant)
    seats = (agent, role_of(agent))
    rosters = [("roster", data.get("roster") or {})] + [
        (f"cells[{i}].roster", cell.get("roster") or {})
        for i, cell in enumerate(data.get("cells") or [])
        if isinstance(cell, Mapping)
    ]
    for where, roster in rosters:
        if isinstance(roster, Mapping) and any(key in seats for key in roster):
            raise ExperimentError(f"{where}: names {fields.participant!r}, the participant's seat")
    data["roster"] = {**(data.get("roster") or {}), agent: HUMAN}
    return Study(fields, agent, load_experiment(data))


def _participant_agent(data: Mapping[str, Any], participant: str) -> str:
    """The agent a participant plays: ``participant`` as an agent name, or its role's first agent
    (the env as ``params`` makes it)."""
    env_id, params = data.get("env"), data.get("params") or {}
    try:
        agents = list(make_env(env_id, dict(params)).possible_agents)
    except Exception as error:
        load_experiment(data)  # words what is wrong with env or params, naming the field
        raise ExperimentError(f"env: cannot build {env_id!r}: {error}") from None
    agent = agent_named(agents, participant)
    if agent is None:
        roles = sorted({role_of(a) for a in agents})
        raise ExperimentError(
            f"participant: {participant!r} is no agent or role of {env_id}; roles: {roles}"
        )
    return agent


def read_study_yaml(path: Path) -> dict[str, Any]:
    """A study file's mapping, or one `ExperimentError` line why not."""
    return read_yaml_mapping(path, "study fields")


# --- participants ---


@dataclass(frozen=True)
class Participant:
    """One person's place in the study (their link's token is kept only as a hash)."""

    participant_id: str
    token_hash: str
    arm: str
    episode_index: int
    episode_id: str
    status: Status
    enrolled_at: float
    updated_at: float
    completion_code: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ParticipantBook:
    """The participants of one study, one JSON file each under ``folder``.

    Writes (`enrol`, `update`, `expire`) are not thread-safe: the server makes them under one
    lock. Lookups (`find`, `get`) need no lock: they read dicts whose entries are replaced whole
    (a participant is a frozen dataclass), never changed in place.
    """

    def __init__(self, folder: Path, study: Study, seed: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.study = study
        self._random = random.Random(seed if seed is not None else secrets.randbits(64))
        self._people: dict[str, Participant] = {}
        self._by_hash: dict[str, str] = {}
        """Token hash -> participant id: `find` looks a link up without scanning everyone."""
        for path in sorted(self.folder.glob("*.json")):
            person = Participant(**json.loads(path.read_text(encoding="utf-8")))
            self._people[person.participant_id] = person
            self._by_hash[person.token_hash] = person.participant_id

    def enrol(
        self, now: float | None = None, invited: bool = False
    ) -> tuple[Participant, str] | None:
        """A new participant in a free slot of the least-filled arm, and their secret token;
        None when every slot is taken. ``invited``: a private link handed out, whose idle clock
        starts when it is first opened."""
        now = time.time() if now is None else now
        self.expire(now)
        taken = {(p.arm, p.episode_index) for p in self._people.values() if p.status in HOLDS_SLOT}
        free: dict[str, list[EpisodeSpec]] = {}
        for spec in self.study.slots():
            if (spec.cell_id, spec.episode_index) not in taken:
                free.setdefault(spec.cell_id, []).append(spec)
        if not free:
            return None
        filled = {arm: sum(1 for arm_, _ in taken if arm_ == arm) for arm in free}
        fewest = min(filled.values())
        arm = self._random.choice(sorted(a for a, n in filled.items() if n == fewest))
        spec = free[arm][0]
        token = secrets.token_urlsafe(24)
        person = Participant(
            participant_id=f"p{len(self._people):05d}-{secrets.token_hex(3)}",
            token_hash=token_hash(token),
            arm=arm,
            episode_index=spec.episode_index,
            episode_id=spec.episode_id,
            status="invited" if invited else "enrolled",
            enrolled_at=now,
            updated_at=now,
        )
        self._save(person)
        return person, token

    def find(self, token: str) -> Participant | None:
        """The participant whose link carries ``token``: looked up by its SHA-256 (how long that
        takes tells nothing of any token), the hash compared in constant time."""
        wanted = token_hash(token)
        person = self._people.get(self._by_hash.get(wanted, ""))
        if person is not None and secrets.compare_digest(person.token_hash, wanted):
            return person
        return None

    def get(self, participant_id: str) -> Participant | None:
        return self._people.get(participant_id)

    def update(self, person: Participant, now: float | None = None, **fields: Any) -> Participant:
        """``person`` with ``fields`` changed, saved; a completion gets its code here."""
        now = time.time() if now is None else now
        if fields.get("status") == "completed" and person.completion_code is None:
            fields["completion_code"] = f"MC-{secrets.token_hex(4).upper()}"
        changed = replace(person, updated_at=now, **fields)
        self._save(changed)
        return changed

    def expire(self, now: float | None = None) -> list[Participant]:
        """Mark participants idle longer than ``abandon_after_s`` (not completed) abandoned."""
        now = time.time() if now is None else now
        limit = self.study.fields.abandon_after_s
        gone = [
            p for p in self._people.values() if p.status in IDLES_OUT and now - p.updated_at > limit
        ]
        return [self.update(p, now, status="abandoned") for p in gone]

    def people(self) -> list[Participant]:
        return sorted(self._people.values(), key=lambda p: p.enrolled_at)

    def progress(self) -> dict[str, dict[str, int]]:
        """Per arm: how many participants are in each status."""
        table = {arm: dict.fromkeys(STATUSES, 0) for arm in self.study.arm_ids()}
        for person in self._people.values():
            table[person.arm][person.status] += 1
        return table

    def _save(self, person: Participant) -> None:
        path = self.folder / f"{person.participant_id}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(asdict(person), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        self._people[person.participant_id] = person
        self._by_hash[person.token_hash] = person.participant_id
