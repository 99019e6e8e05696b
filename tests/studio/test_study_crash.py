"""A studio server killed in the middle of a study (SIGKILL: a crash, an OOM kill, a pulled
plug of the process) and started again with `mercato studio --takeover`, all over real HTTP.

One participant has finished and one is in the middle of their game when the server dies. The
restart without ``--takeover`` refuses in one line that names the flag (the dead server's lease is
stale, not released); with it, the finished participant's link shows their completion code, the
other's link resumes their game where they left it (not at consent) and runs to the end, and the
study's run holds both episodes, the second with its pre-crash decision.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import yaml

from sim.store import load
from tests.sim.s3_server import free_port
from tests.studio.test_study_pages import REPO, answer, participate

START_S = 90.0


def study_file(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "studies" / "bargaining.yaml").read_text())
    data["participants_per_arm"] = 2
    path = tmp_path / "bargaining.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start(root: Path, study: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    """`mercato studio` in a subprocess, once it answers (or has exited: the caller reads why)."""
    command = [sys.executable, "-m", "sim.cli", "studio", str(root), "--study", str(study),
               "--port", str(port), *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/static/studio.css").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    if process.poll() is None:
        process.kill()
        raise AssertionError(f"the studio did not answer within {START_S} s")
    return process


def browser(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True, timeout=30)


def test_a_killed_server_restarts_with_takeover_and_loses_nothing(tmp_path: Path) -> None:
    root, study, port = tmp_path / "root", study_file(tmp_path), free_port()
    root.mkdir()
    server = start(root, study, port)
    try:
        with browser(port) as first, browser(port) as second:
            done_link = first.get("/s/bargaining-pilot").url.path
            done_code, _ = participate(first, done_link)
            page = second.get("/s/bargaining-pilot")
            link = page.url.path
            while 'name="number"' not in page.text:  # consent, instructions: to the game
                page = second.post(link, data=answer(page.text))
            assert 'value="reject"' in page.text  # Bob answers Alice's first offer
            made = second.post(link, data=answer(page.text) | {"decision": "reject"})
            assert made.status_code == 200 and 'id="code"' not in made.text  # mid-game
    finally:
        children = psutil.Process(server.pid).children(recursive=True)  # its shard committer
        server.kill()  # SIGKILL: no shutdown, no lease released, no run closed
        server.wait(30)
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], alive  # the killed server's worker processes leave with it

    refused = start(root, study, port)
    output = refused.communicate(timeout=60)[0] if refused.poll() is None else refused.stdout.read()
    assert refused.returncode not in (0, None), output
    assert "--takeover" in output and "Traceback" not in output, output

    server = start(root, study, port, "--takeover")
    try:
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        with browser(port) as first, browser(port) as second:
            assert done_code in first.get(done_link).text  # finished: the code again
            code, pages = participate(second, link)
            assert 'id="consent"' not in pages[0] and 'name="number"' in pages[0]  # resumed
            assert code != done_code and code.startswith("MC-")
    finally:
        server.send_signal(2)  # a clean stop this time
        server.wait(60)

    episodes, steps = load(root / "bargaining-pilot")
    assert len(episodes) == 2 and episodes["episode_id"].is_unique
    bob = steps[(steps["agent"] == "bob_0") & steps["action"].notna()].sort_values("step")
    assert set(bob["parse_status"]) == {"human"}
    firsts = bob.groupby("episode_id")["reply"].first()
    assert firsts.str.contains("reject").sum() == 1  # the pre-crash decision, kept
