"""Separate Ray clusters on 127.0.0.1 for the cluster tests: two nodes, or a head with Ray Jobs.

Every node is a `ray start --block` process started in a session of its own, so a test can kill
one node hard (SIGKILL to every process of that session: ray start, raylet, agents and workers,
which Ray gives process groups of their own, so `os.killpg` alone would leave them running) and
teardown stops exactly the processes it started. Never `ray stop`: that would stop every Ray on
the machine. Each node gets its own temp dir and free ports, so nothing collides with other Ray
instances. (Ray advertises the machine's own address in place of 127.0.0.1: traffic stays on
this machine; the dashboard listens on 127.0.0.1 only.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.sim.s3_server import free_port

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).parents[2]
STARTUP_S = 120.0
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # the tests move small summaries, not data


def ray_env() -> dict[str, str]:
    """The environment of every Ray process and driver the tests start."""
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class Node:
    """One `ray start --block` process (the leader of its own process group) and its log."""

    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def processes(self) -> list[int]:
        """Every live process of the node's session: ray start, GCS, raylet, agents and the
        workers (which Ray puts in process groups of their own, but not in new sessions)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError):
                    stat = (entry / "stat").read_text()
                    fields = stat[stat.rindex(")") + 2 :].split()
                    if int(fields[3]) == self.process.pid and fields[0] != "Z":
                        found.append(int(entry.name))
        return found

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the node (as a machine dying would, with SIGKILL)."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM, then SIGKILL whatever is left after ``grace_s`` (a graceful `ray start
        --block` drains for 30 s: not worth waiting for in tests)."""
        self.kill(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.kill_all()

    def kill_all(self, timeout_s: float = 30.0) -> None:
        """SIGKILL the node's processes until none is left (a raylet may be starting one)."""
        deadline = time.monotonic() + timeout_s
        while self.processes() and time.monotonic() < deadline:
            self.kill(signal.SIGKILL)
            time.sleep(0.1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def short_temp_dir() -> Iterator[Path]:
    """A fresh folder with a short path in the system temp dir, removed afterwards: a node's Ray
    temp dir. Ray puts Unix sockets there, whose paths may not exceed 107 bytes, and pytest's own
    tmp paths can pass that (``.../pytest-N/popen-gw1/...`` under xdist)."""
    folder = Path(tempfile.mkdtemp(prefix="mr-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_node(args: list[str], temp_dir: Path, log: Path) -> Node:
    """`ray start --block ARGS` on 127.0.0.1 with its own temp dir and agent ports."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    command = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
               "--disable-usage-stats", f"--object-store-memory={OBJECT_STORE_BYTES}",
               f"--dashboard-agent-listen-port={free_port()}",
               f"--dashboard-agent-grpc-port={free_port()}",
               f"--runtime-env-agent-port={free_port()}",
               f"--metrics-export-port={free_port()}", *args]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=ray_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Node(process, log)


def alive_nodes(address: str) -> int:
    """How many alive nodes the cluster's GCS lists (asked from a subprocess, so this test
    process never joins a cluster: the session's `ray_local` may be connected elsewhere)."""
    probe = (
        f"import ray; ray.init(address={address!r}, log_to_driver=False, logging_level='ERROR'); "
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=ray_env(), capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.strip().splitlines()
    return int(lines[-1]) if done.returncode == 0 and lines and lines[-1].isdigit() else -1


def wait_for(ready, nodes: list[Node], what: str, timeout_s: float = STARTUP_S) -> None:
    """Poll ``ready()`` until true; fail with the nodes' logs if one dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        dead = [n for n in nodes if not n.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n---\n".join(n.tail() for n in nodes)
            pytest.fail(f"{what}: {'a node exited' if dead else 'timed out'}\n{logs}")
        time.sleep(0.5)


@dataclass
class TwoNodeCluster:
    """A head and a second node, one CPU each, on 127.0.0.1."""

    address: str
    head: subprocess.Popen
    worker: subprocess.Popen
    nodes: list[Node] = field(repr=False)
    startup_s: float = 0.0

    def kill_worker(self) -> None:
        """Lose the second node: SIGKILL all its processes, as a machine dying would."""
        self.nodes[1].kill_all()

    def alive_nodes(self) -> int:
        return alive_nodes(self.address)


@dataclass
class JobsHead:
    """A head with its dashboard (the Ray Jobs API) on 127.0.0.1."""

    address: str
    dashboard: str
    client: str
    """The Ray Client address, ``ray://127.0.0.1:PORT``."""
    head: subprocess.Popen
    startup_s: float = 0.0

    def __iter__(self) -> Iterator[str]:  # unpacks as (gcs address, dashboard url)
        return iter((self.address, self.dashboard))


def _head_args(port: int, client_port: int, *extra: str) -> list[str]:
    """A one-CPU head; its Ray Client server on a free port (the default 10001 may be taken)."""
    return ["--head", f"--port={port}", "--num-cpus=1",
            f"--ray-client-server-port={client_port}", *extra]  # fmt: skip


@pytest.fixture
def two_node_cluster(tmp_path_factory) -> Iterator[TwoNodeCluster]:
    """Head plus a second node (`ray start --address`), each with its own temp dir; yields once
    the GCS lists both alive."""
    logs = tmp_path_factory.mktemp("ray2")
    port = free_port()
    address = f"127.0.0.1:{port}"
    started = time.monotonic()
    head_args = _head_args(port, free_port(), "--include-dashboard=false")
    with short_temp_dir() as temp:
        nodes = [start_node(head_args, temp / "h", logs / "h.log")]
        try:
            wait_for(lambda: _listening(port), nodes, "ray head (GCS port)")
            worker_args = ["--address", address, "--num-cpus=1"]
            nodes.append(start_node(worker_args, temp / "w", logs / "w.log"))
            wait_for(lambda: alive_nodes(address) == 2, nodes, "second ray node")
            yield TwoNodeCluster(
                address, nodes[0].process, nodes[1].process, nodes, time.monotonic() - started
            )
        finally:
            for node in reversed(nodes):
                node.stop()


@pytest.fixture(scope="module")
def ray_jobs_head(tmp_path_factory) -> Iterator[JobsHead]:
    """A head with the dashboard on 127.0.0.1 (Ray Jobs) and a Ray Client server; yields once
    ``/api/version`` answers. One per module: its tests each start their own driver on it (a job,
    a Ray Client connection) and need no fresh head, and starting one costs about 10 s."""
    logs = tmp_path_factory.mktemp("rayjobs")
    port, dashboard_port, client_port = free_port(), free_port(), free_port()
    started = time.monotonic()
    args = _head_args(port, client_port, "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                      f"--dashboard-port={dashboard_port}")  # fmt: skip
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    with short_temp_dir() as temp:
        node = start_node(args, temp / "h", logs / "h.log")
        try:
            wait_for(lambda: _answers(f"{dashboard}/api/version"), [node], "ray dashboard")
            yield JobsHead(
                f"127.0.0.1:{port}",
                dashboard,
                f"ray://127.0.0.1:{client_port}",
                node.process,
                time.monotonic() - started,
            )
        finally:
            node.stop()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
