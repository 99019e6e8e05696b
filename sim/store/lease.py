"""One writer per run: a lease object (owner, host, pid, heartbeat) in the run's root.

A writer takes ``RUN/lease.json`` before it writes anything and renews its heartbeat from a
background thread while it runs. A second writer is refused with one line naming the holder and
when it was last seen. A lease whose heartbeat is older than the stale limit, or whose process
is gone from this machine (a writer killed without a chance to let go), may be taken over, but
only when asked (``--takeover``).

Taking the lease is atomic on local disks (exclusive create). Object stores have no
create-if-absent, so a writer there writes its lease, waits `SETTLE_S`, and reads it back: of two
writers racing, the one whose write landed last keeps it and the other is refused. Every shard
commit and manifest update checks the lease is still its writer's (`Lease.check`), so a writer
that lost its lease stops instead of writing beside the new holder.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sim.store.storage import Location

LEASE = "lease.json"
SETTLE_S = 1.0
"""How long an object-store writer waits before reading its lease back (see the module doc)."""


def heartbeat_s() -> float:
    """Seconds between heartbeats (``MERCATO_LEASE_HEARTBEAT_S``, default 5)."""
    return float(os.environ.get("MERCATO_LEASE_HEARTBEAT_S", "5"))


def stale_after_s() -> float:
    """A heartbeat older than this (``MERCATO_LEASE_STALE_S``, default 30 s) is a dead writer's."""
    return float(os.environ.get("MERCATO_LEASE_STALE_S", "30"))


class LeaseHeld(ValueError):
    """Another writer holds the run (or held it and went silent: see `--takeover`)."""


class LeaseLost(ValueError):
    """This writer's lease was taken over: it must stop writing."""


@dataclass(frozen=True)
class LeaseInfo:
    """What a lease object says: who holds the run, where, and when it was last seen."""

    owner: str
    host: str
    pid: int
    started: str
    heartbeat: float
    run_id: str | None = None
    """The run the holder writes (set once its manifest exists): commits check it too."""

    @classmethod
    def new(cls) -> LeaseInfo:
        now = time.time()
        return cls(uuid4().hex, socket.gethostname(), os.getpid(), _iso(now), now)

    @classmethod
    def from_json(cls, data: Any) -> LeaseInfo | None:
        try:
            return cls(
                str(data["owner"]),
                str(data["host"]),
                int(data["pid"]),
                str(data["started"]),
                float(data["heartbeat"]),
                None if data.get("run_id") is None else str(data["run_id"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            return None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "heartbeat_iso": _iso(self.heartbeat)}

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.heartbeat)

    def stale(self, now: float | None = None) -> bool:
        """Silent past the stale limit, or its process is gone (a writer on this machine)."""
        return self.age_s(now) > stale_after_s() or self.process_gone()

    def process_gone(self) -> bool:
        """Whether the writer ran on this machine and its process no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def holder(self) -> str:
        gone = "; its process is gone" if self.process_gone() else ""
        return f"pid {self.pid} on {self.host}, last heartbeat {_ago(self.age_s())}{gone}"


UNREADABLE = LeaseInfo("unreadable", "unknown host", 0, "", 0.0)
"""What an unreadable lease counts as: a writer silent since 1970, so stale."""


def read_lease(location: Location) -> LeaseInfo | None:
    """The run's lease, or None when no writer holds it (an unreadable lease counts as stale)."""
    try:
        data = location.read_json(LEASE)
    except ValueError:
        data = None if not location.exists(LEASE) else "unreadable"
    if data is None:
        return None
    return LeaseInfo.from_json(data) or UNREADABLE


def writer_state(location: Location, status: str | None) -> str:
    """A manifest status as readers should see it: ``running`` only while a live lease holds the
    run (``running (last heartbeat 3 s ago)``); a ``running`` run with a stale or absent lease is
    ``stale``."""
    if status != "running":
        return str(status)
    lease = read_lease(location)
    if lease is None:
        return "stale (no writer holds it: the last one stopped without a word)"
    if lease.stale():
        return f"stale ({lease.holder()}; its writer stopped without a word)"
    return f"running (last heartbeat {_ago(lease.age_s())})"


class Lease:
    """A lease this process holds on a run: renewal, checks, release."""

    def __init__(self, location: Location, info: LeaseInfo) -> None:
        self.location, self.info = location, info
        self.lost: str | None = None
        self.released = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def owner(self) -> str:
        return self.info.owner

    @classmethod
    def acquire(cls, location: Location, takeover: bool = False) -> Lease:
        """Take the run's lease, or raise `LeaseHeld` naming the holder."""
        mine = LeaseInfo.new()
        data = _encode(mine)
        if location.create_exclusive(LEASE, data):
            if location.local:
                return cls(location, mine)
        else:
            current = read_lease(location)
            if current is not None:
                _refuse_unless_stale(location, current, takeover)
            location.write_atomic(LEASE, data)
        time.sleep(SETTLE_S)  # a takeover, or any take on an object store: let racers land
        now = read_lease(location)
        if now is None or now.owner != mine.owner:
            raise LeaseHeld(
                f"{location.name()}: another writer took the run at the same moment"
                + (f" ({now.holder()})" if now else "")
                + "; wait for it to finish, or choose another --out"
            )
        return cls(location, mine)

    def check(self) -> None:
        """Raise `LeaseLost` unless the run's lease is still this writer's."""
        if self.lost:
            raise LeaseLost(self.lost)
        current = read_lease(self.location)
        if current is None or current.owner != self.owner:
            who = current.holder() if current else "nobody"
            self.lost = (
                f"{self.location.name()}: this writer's lease was taken over ({who}); "
                "it stopped writing"
            )
            raise LeaseLost(self.lost)

    def renew(self) -> None:
        """Check the lease is still ours, then write a fresh heartbeat."""
        self.check()
        self.info = replace(self.info, heartbeat=time.time())
        self.location.write_atomic(LEASE, _encode(self.info))

    def bind(self, run_id: str) -> None:
        """Name the run this lease writes, so every commit can check it (see `RunDir`)."""
        self.info = replace(self.info, run_id=run_id)
        self.renew()

    def start_heartbeat(self) -> None:
        """Renew every `heartbeat_s` seconds from a daemon thread until `release`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._beat, name="mercato-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_s()):
            try:
                self.renew()
            except LeaseLost:
                return
            except Exception:  # a storage hiccup: the next beat tries again
                continue

    def release(self) -> bool:
        """Stop the heartbeat and delete the lease if it is still ours. False when it could not
        be deleted (the storage failed): it stays until a writer takes it over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.lost or self.released:
            return True
        try:
            current = read_lease(self.location)
            if current is not None and current.owner == self.owner:
                self.location.delete(LEASE)
        except Exception:  # never mask the run's own outcome: the caller says what to do
            return False
        self.released = True
        return True


def check_free(location: Location, takeover: bool = False) -> None:
    """Raise `LeaseHeld` (one line) where `Lease.acquire` would refuse today: a live writer
    holds the run, or a stale one does and ``takeover`` is off. A check before starting work
    (a server before it listens); `Lease.acquire` still decides."""
    current = read_lease(location)
    if current is not None:
        _refuse_unless_stale(location, current, takeover)


def _refuse_unless_stale(location: Location, current: LeaseInfo, takeover: bool) -> None:
    if not current.stale():
        raise LeaseHeld(
            f"{location.name()} is being written by another run ({current.holder()}); "
            "wait for it to finish, or choose another --out"
        )
    if not takeover:
        raise LeaseHeld(
            f"{location.name()}: a writer's lease is stale ({current.holder()}; stale after "
            f"{stale_after_s():.0f} s); if that writer is gone, re-run with --takeover"
        )


def _encode(info: LeaseInfo) -> bytes:
    return json.dumps(info.to_json(), indent=2).encode("utf-8")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
