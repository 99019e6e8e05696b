"""Per-episode journals: what a played episode needs to reach the same state after a crash.

A live episode appends one JSON line per event to ``RUN/journal/<episode_id>.jsonl``, each line
flushed and fsynced before the episode moves on: ``start`` (cell, index, seed, the person's
agent), ``human`` (each accepted reply, with the replies refused before it), ``llm`` (each result
an opponent's model gave, keyed by the request's hash and its occurrence), then ``finished`` or
``abandoned``. Replaying the journal (same seed, the journaled replies fed in, the journaled
model results served by `JournaledModel`) brings the env to the state the person left, because
envs and policies are deterministic given their seed and inputs. An abandoned journal is moved
aside (``<episode_id>.abandoned-<n>.jsonl``) when its episode starts again, so it stays on record.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    choice_from_dict,
    completion_from_dict,
    request_key,
)
from sim.llm.wrappers import ModelWrapper

JOURNAL_DIR = "journal"
START, REPLY, LLM, FINISHED, ABANDONED = "start", "human", "llm", "finished", "abandoned"
"""Kinds of journal lines (``human``: an accepted reply of the person)."""


class Journal:
    """One episode's journal file: appends are durable (flush + fsync) and thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._folder_made = False

    def append(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"kind": kind, **fields}, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            if not self._folder_made:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._folder_made = True
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line + "\n")
                file.flush()
                os.fsync(file.fileno())

    def entries(self) -> list[dict[str, Any]]:
        """Every complete line (a line cut short by a crash is the last one, and is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def set_aside(self) -> Path:
        """Move this journal to the first free ``<name>.abandoned-<n>.jsonl``; its new path."""
        n = 0
        while True:
            target = self.path.with_name(f"{self.path.stem}.abandoned-{n}.jsonl")
            if not target.exists():
                self.path.rename(target)
                return target
            n += 1


@dataclass
class Replay:
    """What a journal holds for replaying its episode."""

    start: dict[str, Any] | None = None
    human: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    llm: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    ended: str | None = None
    """``finished`` or ``abandoned`` when the journal says the episode ended."""

    @classmethod
    def of(cls, journal: Journal) -> Replay:
        replay = cls()
        for entry in journal.entries():
            kind = entry.get("kind")
            if kind == START:
                replay.start = entry
            elif kind == REPLY:
                refused = [(str(r), str(e)) for r, e in entry.get("refused", [])]
                replay.human.append((str(entry["reply"]), refused))
            elif kind == LLM:
                replay.llm[(entry["call"], entry["key"], int(entry["n"]))] = entry["result"]
            elif kind in (FINISHED, ABANDONED):
                replay.ended = kind
        return replay


def journals(run_path: Path) -> Iterator[Journal]:
    """The live (not set aside) journals of a run, by episode id."""
    folder = run_path / JOURNAL_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*.jsonl")):
            if ".abandoned-" not in path.name:
                yield Journal(path)


def journal_of(run_path: Path, episode_id: str) -> Journal:
    return Journal(run_path / JOURNAL_DIR / f"{episode_id}.jsonl")


# --- model results: journaled live, served on replay ---


class JournaledModel(ModelWrapper):
    """Serves results found in a `Replay` and journals every other result ``inner`` gives.

    A request is known by the hash of its model reference (``source``) and fields, and by how
    many identical requests the episode made before it, so a resumed episode gets the very
    results its first life got."""

    def __init__(
        self,
        inner: BaseLanguageModel,
        journal: Journal,
        replayed: dict[tuple[str, str, int], dict[str, Any]] | None = None,
        source: Any = "",
    ) -> None:
        super().__init__(inner)
        self.journal = journal
        self.source = json.dumps(source, sort_keys=True, default=str)
        self.replayed = dict(replayed or {})
        self.served_from_journal = 0
        self._seen: Counter[tuple[str, str]] = Counter()

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._serve("generate", requests, self.inner.generate, completion_from_dict)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._serve("choose", requests, self.inner.choose, choice_from_dict)

    def _serve(self, call: str, requests: list[Any], ask: Any, rebuild: Any) -> list[Any]:
        keys = []
        for request in requests:
            text = f"{self.source}\x00{request_key(request)}"
            key = hashlib.sha256(text.encode()).hexdigest()[:32]
            keys.append((call, key, self._seen[(call, key)]))
            self._seen[(call, key)] += 1
        results: list[Any] = [None] * len(requests)
        missing = []
        for i, key in enumerate(keys):
            found = self.replayed.pop(key, None)
            if found is None:
                missing.append(i)
            else:
                results[i] = rebuild(found)
                self.served_from_journal += 1
        if missing:
            fresh = ask([requests[i] for i in missing])
            for i, result in zip(missing, fresh, strict=True):
                call_name, key, n = keys[i]
                self.journal.append(LLM, call=call_name, key=key, n=n, result=asdict(result))
                results[i] = result
        return results

    def close(self) -> None:
        """The shared model outlives every episode: nothing to close here."""
