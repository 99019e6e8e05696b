"""Runs you can trust: one writer per run directory, verified shards, status you can believe.

Every result is compared with the same experiment played in-process, uninterrupted
(`reference`): the same episodes and steps, nothing missing, nothing twice, one run_id.
Writers that must race are real `mercato run` processes; the rest run in-process to stay quick.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.engine.batch import run
from sim.store.runs import load, read_manifest
from sim.store.shard_index import Audit, RunDamaged, audit
from sim.store.storage import Location

ROOT = Path(__file__).parents[2]
NOISE = ["wall_s", "run_id"]
SHARDS = [f"s{i:05d}" for i in range(5)]  # 18 episodes in shards of 4: 4, 4, 4, 4, 2
HOST = socket.gethostname()
runner = CliRunner()


def experiment(**changes) -> dict:
    """18 scripted episodes (2 cells x 9) in 5 shards: quick, deterministic, no model."""
    data = {
        "name": "integrity-test",
        "imports": ["tests.envs_fixtures.registered"],
        "env": "mercato/TestUltimatum-v0",
        "grid": {"max_pie": [20.0, 50.0]},
        "roster": {"proposer": "random", "responder": "random"},
        "episodes": 9,
        "shard_size": 4,
        "lockstep": 3,
    }
    data.update(changes)
    return data


def slow(delay_s: float) -> dict:
    """The same episodes with a proposer that sleeps ``delay_s`` per offer (18 offers a run):
    a writer that holds its run for a while. Only `roster` and `policy` differ from `experiment`."""
    proposer = {"policy": "ultimatum/slow-random", "options": {"delay_s": delay_s}}
    return experiment(roster={"proposer": proposer, "responder": "random"})


def tables(out, scripted: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's tables without timing and run ids (and, for `slow` runs, the policy names)."""
    episodes, steps = load(out)
    episodes = episodes.drop(columns=NOISE + (["roster"] if scripted else []))
    steps = steps.drop(columns=["policy"] if scripted else [])
    return episodes.reset_index(drop=True), steps.reset_index(drop=True)


def assert_same_run(out, reference, scripted: bool = False) -> None:
    """``out`` holds exactly the reference's episodes and steps."""
    for got, want in zip(tables(out, scripted), tables(reference, scripted), strict=True):
        pd.testing.assert_frame_equal(got, want)


def duplicates(out) -> int:
    """Episode keys and step keys present more than once."""
    episodes, steps = load(out)
    return int(
        episodes.duplicated(["cell_id", "episode_index"]).sum()
        + steps.duplicated(["episode_id", "step", "agent"]).sum()
    )


def audit_of(out) -> Audit:
    """Every shard of the run at ``out`` checked against its commit record."""
    return audit(Location.of(out), read_manifest(out))


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def record(out: Path, shard_id: str) -> dict:
    return json.loads((out / "shards" / f"{shard_id}.json").read_text())


def write_spec(folder: Path, data: dict, name: str = "exp.yaml") -> Path:
    spec = folder / name
    spec.write_text(yaml.safe_dump(data))
    return spec


def invoke(*args, env: dict | None = None):
    """`mercato ARGS` in-process; an exception other than a clean exit is a traceback: re-raised."""
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def error_line(stderr: str) -> str:
    """The one line a refused or failed command prints: `error: ...`, and nothing else."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@dataclass
class Cli:
    """`mercato ARGS` as a subprocess (cwd the project root); output goes to files, so a chatty
    process never blocks on a full pipe."""

    args: list[str]
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self) -> Cli:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "sim.cli", *self.args]
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", **self.env}
        with open(self.folder / "stdout", "w") as out, open(self.folder / "stderr", "w") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = 180) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"mercato {' '.join(self.args)} ran over {timeout} s") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout").read_text()

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr").read_text()


def cli(*args, folder: Path, env: dict | None = None, timeout: float = 180) -> Cli:
    """Run `mercato ARGS` in a subprocess to the end."""
    done = Cli([str(a) for a in args], folder, env or {}).start()
    done.wait(timeout)
    return done


def wait_for(condition: Callable[[], bool], *writers: Cli, timeout: float = 120) -> None:
    """Poll ``condition`` while the writers are alive."""
    deadline = time.monotonic() + timeout
    while not condition():
        for writer in writers:
            assert writer.process.poll() is None, writer.stdout + writer.stderr
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def committed(out: Path) -> list[Path]:
    return sorted((out / "shards").glob("*.json")) if (out / "shards").is_dir() else []


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The experiment played in-process, uninterrupted."""
    return Path(run(experiment(), workers=0, out=tmp_path_factory.mktemp("reference") / "run"))


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    """`experiment()` as a YAML file, for `mercato run`."""
    return write_spec(tmp_path_factory.mktemp("spec"), experiment())


def interrupted_run(out: Path, shards: int = 2) -> list[str]:
    """Play `experiment()` into ``out`` and stop it (as Ctrl-C would) after ``shards`` shards."""
    seen: list[str] = []

    def stop_after(summary, finished, total):
        seen.append(summary.shard_id)
        if len(seen) == shards:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(experiment(), workers=0, out=out, on_progress=stop_after)
    assert manifest(out)["status"] == "interrupted"
    return seen


# -- one writer per run ----------------------------------------------------------------------


@dataclass
class Tally:
    """Concurrency outcomes over the scenarios, for the closing summary line."""

    scenarios: int = 0
    refused: int = 0
    duplicates: int = 0


@pytest.mark.slow
def test_of_two_writers_exactly_one_plays_and_the_other_is_refused(tmp_path, reference):
    """Two `mercato run`s on one --out: started together, 2 s apart, and the second with --fresh
    while the first plays. One exits 0, the other exits 2 naming the holder; the directory holds
    one run equal to the reference. While the writer plays, `mercato report` says it is running."""
    tally = Tally()
    for scenario in ("together", "apart", "fresh"):
        # 18 offers of 0.3 s or 0.5 s each: the first writer plays for 5 s or 9 s after a start of
        # about 4 s, long enough for a second writer started later to find it still playing.
        delay = 0.3 if scenario == "together" else 0.5
        spec = write_spec(tmp_path, slow(delay), name=f"{scenario}.yaml")
        out = tmp_path / scenario / "run"
        args = ["run", spec, "--workers", "0", "--out", out]
        first = Cli([str(a) for a in args], tmp_path / scenario / "first").start()
        second = Cli([], tmp_path / scenario / "second")
        try:
            if scenario == "apart":
                time.sleep(2)
            elif scenario == "fresh":
                wait_for(lambda out=out: (out / "lease.json").exists(), first)
                args.append("--fresh")
            second.args = [str(a) for a in args]
            second.start()
            if scenario == "fresh":
                wait_for(lambda out=out: committed(out), first)
                live = invoke("report", out)
                assert live.exit_code == 0, live.output
                assert re.search(r"running \(last heartbeat \d+(\.\d+)? s ago\)", live.output), (
                    live.output
                )
            codes = [first.wait(), second.wait()]
        finally:
            first.kill()
            second.kill()
        tally.scenarios += 1
        assert sorted(codes) == [0, 2], (scenario, codes, first.stderr, second.stderr)
        winner, loser = (first, second) if codes[0] == 0 else (second, first)
        if scenario != "together":
            assert winner is first, scenario  # the first already held the lease
        line = error_line(loser.stderr)
        assert str(out) in line, line
        assert "lease" in line or "being written" in line, line
        assert f"pid {winner.pid}" in line and HOST in line, (line, winner.pid, HOST)
        tally.refused += 1
        assert_same_run(out, reference, scripted=True)
        tally.duplicates += duplicates(out)
        episodes, _ = load(out)
        assert set(episodes["run_id"]) == {manifest(out)["run_id"]}
        assert manifest(out)["status"] == "complete"
        assert not (out / "lease.json").exists()
        assert audit_of(out).clean
    print(
        f"concurrency: {tally.scenarios} scenarios, {tally.refused} refused second writers, "
        f"{tally.duplicates} duplicates"
    )
    assert (tally.scenarios, tally.refused, tally.duplicates) == (3, 3, 0)


@pytest.mark.slow
def test_a_killed_writer_leaves_a_stale_lease_that_only_takeover_takes(tmp_path, reference):
    """SIGKILL a writer mid-run: its manifest still says `running`, `mercato report` says `stale`;
    a plain re-run is refused naming `--takeover`; with `--takeover` it completes."""
    spec = write_spec(tmp_path, slow(0.2))
    out = tmp_path / "run"
    env = {"MERCATO_LEASE_STALE_S": "2", "MERCATO_LEASE_HEARTBEAT_S": "0.5"}
    args = ["run", spec, "--workers", "0", "--out", out]
    writer = Cli([str(a) for a in args], tmp_path / "writer", env).start()
    try:
        wait_for(lambda: committed(out), writer)
        writer.process.send_signal(signal.SIGKILL)
        writer.process.wait(timeout=30)
    finally:
        writer.kill()
    assert manifest(out)["status"] == "running" and (out / "lease.json").exists()
    assert len(committed(out)) < len(SHARDS)
    time.sleep(2.5)  # past MERCATO_LEASE_STALE_S since the last heartbeat
    report = invoke("report", out, env=env)
    assert report.exit_code == 0, report.output
    assert re.search(r"\(stale \([^)]*last heartbeat \d+ s ago", report.stdout), report.stdout
    plain = invoke(*args, env=env)
    assert plain.exit_code == 2, plain.output
    line = error_line(plain.stderr)
    assert "stale" in line and "--takeover" in line, line
    assert f"pid {writer.pid}" in line and HOST in line, line
    taken = invoke(*args, "--takeover", env=env)
    assert taken.exit_code == 0, taken.output
    assert_same_run(out, reference, scripted=True)
    assert manifest(out)["status"] == "complete" and not (out / "lease.json").exists()


def write_lease(out: Path, age_s: float, host: str = "elsewhere.example") -> dict:
    """A lease.json as another writer on another host would leave it, last seen ``age_s`` ago."""
    beat = time.time() - age_s
    lease = {
        "owner": "0123456789abcdef0123456789abcdef",
        "host": host,
        "pid": 424242,
        "started": "2020-01-01T00:00:00+00:00",
        "heartbeat": beat,
        "heartbeat_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(beat)),
    }
    (out / "lease.json").write_text(json.dumps(lease))
    return lease


def test_a_live_lease_refuses_even_takeover_and_a_stale_one_yields_to_it(tmp_path, spec, reference):
    """A lease seen 1 s ago (another host) refuses `run`, `run --takeover` and `run --fresh`;
    one seen an hour ago refuses a plain run naming `--takeover`, and `--takeover` completes."""
    out = tmp_path / "run"
    interrupted_run(out)
    done = {p.name for p in committed(out)}
    write_lease(out, age_s=1)
    for extra in ([], ["--takeover"], ["--fresh"]):
        refused = invoke("run", spec, "--workers", "0", "--out", out, *extra)
        assert refused.exit_code == 2, (extra, refused.output)
        line = error_line(refused.stderr)
        assert "elsewhere.example" in line and "424242" in line, line
        assert "stale" not in line, line
        assert {p.name for p in committed(out)} == done  # nothing written, nothing deleted
    write_lease(out, age_s=3600)
    refused = invoke("run", spec, "--workers", "0", "--out", out)
    assert refused.exit_code == 2, refused.output
    line = error_line(refused.stderr)
    assert "stale" in line and "--takeover" in line and "elsewhere.example" in line, line
    taken = invoke("run", spec, "--workers", "0", "--out", out, "--takeover")
    assert taken.exit_code == 0, taken.output
    assert_same_run(out, reference)
    assert manifest(out)["status"] == "complete" and not (out / "lease.json").exists()


# -- verified shards -------------------------------------------------------------------------


def data_file(out: Path, shard_id: str, table: str) -> Path:
    return out / record(out, shard_id)[table]["file"]


def flip_bit(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    bit = rng.randrange(len(data) * 8)
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


@dataclass
class Damage:
    """One way to damage a complete run; ``shard`` is the shard it hits (None: none committed)."""

    kind: str
    shard: str | None
    apply: Callable[[Path], None]
    load_refuses: bool = True


def damages(foreign: Path) -> Iterator[Damage]:
    def truncate(out: Path) -> None:
        path = data_file(out, "s00001", "episodes")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    def empty(out: Path) -> None:
        data_file(out, "s00002", "steps").write_bytes(b"")

    def delete_steps(out: Path) -> None:
        data_file(out, "s00003", "steps").unlink()

    def delete_record(out: Path) -> None:
        (out / "shards" / "s00004.json").unlink()

    def foreign_shard(out: Path) -> None:
        """Another run's shard s00000 (a different experiment), record and files."""
        theirs = record(foreign, "s00000")
        for table in ("episodes", "steps"):
            shutil.copy(foreign / theirs[table]["file"], out / theirs[table]["file"])
        shutil.copy(foreign / "shards" / "s00000.json", out / "shards" / "s00000.json")

    def stray(out: Path) -> None:
        shutil.copy(data_file(foreign, "s00001", "episodes"), out / STRAY)

    yield Damage("truncated episodes", "s00001", truncate)
    yield Damage("empty steps", "s00002", empty)
    for table in ("episodes", "steps"):
        for seed in range(10):
            rng = random.Random(seed)
            shard = rng.choice(SHARDS)
            yield Damage(
                f"bit flip in {table} (seed {seed})",
                shard,
                lambda out, t=table, s=shard, r=rng: flip_bit(data_file(out, s, t), r),
            )
    yield Damage("deleted steps", "s00003", delete_steps)
    yield Damage("deleted commit record", "s00004", delete_record, load_refuses=False)
    yield Damage("foreign shard", "s00000", foreign_shard)
    yield Damage("stray parquet", None, stray, load_refuses=False)


STRAY = "episodes/s00001.0123456789ab.parquet"


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> Path:
    """A complete run of a different experiment (other pies), same shard ids."""
    out = tmp_path_factory.mktemp("foreign") / "run"
    return Path(run(experiment(grid={"max_pie": [30.0, 60.0]}), workers=0, out=out))


@pytest.mark.slow
def test_damage_is_found_refused_and_repaired(tmp_path, spec, reference, foreign):
    """Truncation, zero length, bit flips, deleted files and records, a foreign shard, a stray
    file: `mercato verify` names the shard, `load` refuses it, the same `mercato run` repairs it."""
    attempts = detected = repaired = 0
    for number, damage in enumerate(damages(foreign)):
        out = tmp_path / f"case{number}"
        shutil.copytree(reference, out)
        damage.apply(out)
        attempts += 1
        found = invoke("verify", out)
        if damage.shard is None:  # only the stray file: every committed shard verifies
            assert found.exit_code == 0, (damage.kind, found.output)
            assert Path(STRAY).name in found.stdout, (damage.kind, found.stdout)
            assert "uncommitted" in found.stdout.lower(), (damage.kind, found.stdout)
            assert_same_run(out, reference)
        else:
            assert found.exit_code == 1, (damage.kind, found.output)
            assert damage.shard in found.stdout, (damage.kind, found.stdout)
            if damage.load_refuses:
                with pytest.raises(RunDamaged, match=damage.shard):
                    load(out)
            else:  # a deleted record is a missing shard: load returns the others
                episodes, _ = load(out)
                assert len(episodes) == 16 and "s00004" in audit_of(out).missing, damage.kind
        detected += 1
        again = invoke("run", spec, "--workers", "0", "--out", out)
        assert again.exit_code == 0, (damage.kind, again.output)
        after = invoke("verify", out)
        assert after.exit_code == 0, (damage.kind, after.output)
        assert_same_run(out, reference)
        checked = audit_of(out)
        assert checked.clean and not checked.missing and not checked.uncommitted, damage.kind
        repaired += 1
    print(f"damage: {attempts} attempts, {detected} detected, {repaired} repaired")
    assert attempts == detected == repaired == 26


# -- filesystem errors, leftovers, wall time -------------------------------------------------


def _writable(folder: Path) -> bool:
    try:
        (folder / ".probe").mkdir()
    except OSError:
        return False
    (folder / ".probe").rmdir()
    return True


@contextmanager
def unwritable(folder: Path) -> Iterator[Path]:
    """A directory nothing can be created in, for root too: mode 0555, else the immutable
    attribute (chattr +i), else sysfs (which refuses new entries to everyone)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if not _writable(folder):
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    folder.chmod(0o755)
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode == 0 and not _writable(folder):
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        return
    assert not _writable(Path("/sys")), "no unwritable directory found on this machine"
    yield Path("/sys")


@pytest.mark.slow
def test_an_unwritable_destination_is_one_error_line(tmp_path, spec):
    """--out in a read-only directory, or under a regular file: exit 1, one `error:` line naming
    the path, no traceback, nothing created."""
    (tmp_path / "file.txt").write_text("not a directory")
    under_file = tmp_path / "file.txt" / "run"
    with unwritable(tmp_path / "readonly") as folder:
        read_only = folder / "run"
        runs = [
            Cli(["run", str(spec), "--workers", "0", "--out", str(out)], tmp_path / name).start()
            for name, out in (("read_only", read_only), ("under_file", under_file))
        ]
        codes = [r.wait() for r in runs]
    assert codes == [1, 1], [r.stdout + r.stderr for r in runs]
    for out, done in zip((read_only, under_file), runs, strict=True):
        line = error_line(done.stderr)
        assert str(out) in line or str(out.parent) in line, line
        assert "Traceback" not in done.stdout
    assert not read_only.exists()


def test_a_run_dir_that_turns_read_only_fails_cleanly_and_then_resumes(tmp_path, spec, reference):
    """A resumed run whose episodes folder refuses writes (immutable, so root too): exit 1, one
    line naming the folder, manifest `failed`, lease released; once writable the run completes."""
    out = tmp_path / "run"
    interrupted_run(out)
    episodes = out / "episodes"
    locked = subprocess.run(["chattr", "+i", str(episodes)], capture_output=True, check=False)
    if locked.returncode != 0 or _writable(episodes):
        subprocess.run(["chattr", "-i", str(episodes)], capture_output=True, check=False)
        pytest.skip("no way to make a folder read-only for this user here (chattr +i)")
    try:
        failed = invoke("run", spec, "--workers", "0", "--out", out)
    finally:
        subprocess.run(["chattr", "-i", str(episodes)], check=True)
    assert failed.exit_code == 1, failed.output
    line = error_line(failed.stderr)
    assert str(out) in line, line
    assert manifest(out)["status"] == "failed"
    assert not (out / "lease.json").exists()
    again = invoke("run", spec, "--workers", "0", "--out", out)
    assert again.exit_code == 0, again.output
    assert_same_run(out, reference)


def test_leftover_tmp_and_uncommitted_files_are_removed_by_the_next_run(tmp_path, reference):
    out = tmp_path / "run"
    interrupted_run(out)
    done = record(out, committed(out)[0].stem)
    leftovers = [
        out / "episodes" / "s00003.0123456789ab.parquet.tmp",
        out / "steps" / "s00003.0123456789ab.parquet.1234.tmp",
        out / "shards" / "s00003.json.tmp",
        out / "manifest.json.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"half a file")
    uncommitted = [
        out / "episodes" / "s00003.ba9876543210.parquet",
        out / "steps" / "s00003.ba9876543210.parquet",
    ]
    shutil.copy(out / done["episodes"]["file"], uncommitted[0])
    shutil.copy(out / done["steps"]["file"], uncommitted[1])
    assert {str(p.relative_to(out)) for p in uncommitted} <= set(audit_of(out).uncommitted)
    run(experiment(), workers=0, out=out)
    assert not [p for p in leftovers + uncommitted if p.exists()]
    assert not list(out.rglob("*.tmp"))
    named = {record(out, s)[t]["file"] for s in SHARDS for t in ("episodes", "steps")}
    on_disk = {str(p.relative_to(out)) for t in ("episodes", "steps") for p in (out / t).iterdir()}
    assert on_disk == named
    assert_same_run(out, reference)


def test_wall_time_accumulates_across_resumes(tmp_path, reference):
    out = tmp_path / "run"
    interrupted_run(out)
    first = manifest(out)
    assert first["wall_s"] > 0 and len(first["invocations"]) == 1
    run(experiment(), workers=0, out=out)
    second = manifest(out)
    assert len(second["invocations"]) == 2
    assert second["wall_s"] >= first["wall_s"]
    assert [i["status"] for i in second["invocations"]] == ["interrupted", "complete"]
    assert second["wall_s"] == pytest.approx(
        sum(i["wall_s"] for i in second["invocations"]), abs=0.01
    )
    assert_same_run(out, reference)
