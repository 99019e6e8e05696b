"""The run lease: one holder, refusals that name it, stale leases taken over only when asked;
locations that never show credentials."""

from __future__ import annotations

import json
import socket
import time

import pytest

from sim.store.lease import LEASE, Lease, LeaseHeld, LeaseLost, read_lease, writer_state
from sim.store.storage import Location, StoreError, redact


def write_lease(location: Location, **changes) -> None:
    lease = {
        "owner": "0" * 32,
        "host": "elsewhere",
        "pid": 4242,
        "started": "2026-01-01T00:00:00+00:00",
        "heartbeat": time.time(),
        **changes,
    }
    location.write_json(LEASE, lease)


def test_one_holder_and_the_refusal_names_it(tmp_path):
    location = Location.of(tmp_path / "run")
    first = Lease.acquire(location)
    with pytest.raises(
        LeaseHeld, match=rf"being written by another run \(pid \d+ on {socket.gethostname()}"
    ):
        Lease.acquire(location)
    with pytest.raises(LeaseHeld):
        Lease.acquire(location, takeover=True)  # a live holder is never taken over
    first.release()
    assert read_lease(location) is None
    Lease.acquire(location).release()


def test_a_stale_lease_is_taken_over_only_when_asked(tmp_path, monkeypatch):
    location = Location.of(tmp_path / "run")
    write_lease(location, heartbeat=time.time() - 3600)
    with pytest.raises(
        LeaseHeld, match=r"stale \(pid 4242 on elsewhere, last heartbeat 60 min.*--takeover"
    ):
        Lease.acquire(location)
    assert writer_state(location, "running").startswith("stale (pid 4242 on elsewhere")
    monkeypatch.setattr("sim.store.lease.SETTLE_S", 0.0)
    taken = Lease.acquire(location, takeover=True)
    assert read_lease(location).owner == taken.owner
    assert writer_state(location, "running").startswith("running (last heartbeat")
    taken.release()


def test_a_lease_whose_process_is_gone_from_this_machine_is_stale_at_once(tmp_path):
    location = Location.of(tmp_path / "run")
    write_lease(location, host=socket.gethostname(), pid=2**22 + 12345)  # no such process
    with pytest.raises(LeaseHeld, match=r"its process is gone.*--takeover"):
        Lease.acquire(location)
    assert writer_state(location, "running").startswith("stale")
    assert writer_state(location, "complete") == "complete"


def test_a_writer_that_lost_its_lease_stops(tmp_path, monkeypatch):
    location = Location.of(tmp_path / "run")
    lease = Lease.acquire(location)
    write_lease(location, owner="f" * 32)  # someone took over
    with pytest.raises(LeaseLost, match="taken over"):
        lease.check()
    with pytest.raises(LeaseLost):
        lease.renew()
    lease.release()  # never deletes the new holder's lease
    assert read_lease(location).owner == "f" * 32


def test_the_heartbeat_renews_the_lease(tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_LEASE_HEARTBEAT_S", "0.05")
    location = Location.of(tmp_path / "run")
    lease = Lease.acquire(location)
    first = read_lease(location).heartbeat
    lease.start_heartbeat()
    deadline = time.monotonic() + 10
    while read_lease(location).heartbeat == first:
        assert time.monotonic() < deadline, "no heartbeat"
        time.sleep(0.02)
    lease.release()
    assert read_lease(location) is None


def test_an_unreadable_lease_counts_as_stale(tmp_path):
    location = Location.of(tmp_path / "run")
    location.write_atomic(LEASE, b"{not json")
    with pytest.raises(LeaseHeld, match=r"stale.*--takeover"):
        Lease.acquire(location)


def test_locations_redact_credentials():
    uri = "s3://AKIAXXXX:s3cr3t@bucket/runs/x?endpoint_override=127.0.0.1:9&secret_key=abc&scheme=http"
    shown = redact(uri)
    assert "s3cr3t" not in shown and "AKIAXXXX" not in shown and "abc" not in shown
    assert shown.startswith("s3://bucket/runs/x?") and "endpoint_override=127.0.0.1:9" in shown
    assert redact("/plain/path") == "/plain/path"


def test_a_write_under_a_file_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "file").write_text("")
    location = Location.of(tmp_path / "file" / "run")
    with pytest.raises(StoreError) as caught:
        location.write_json("manifest.json", {"a": 1})
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "file" / "run") in message
    assert json.dumps({"a": 1}) not in message
