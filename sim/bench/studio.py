"""`mercato bench studio`: the decisions per second a studio server sustains for many people.

A real uvicorn server runs in a subprocess (its own interpreter, as in production) on a free
port of 127.0.0.1, over a temporary root with one study whose opponents are scripted (the
preset's, or ``--study``). N simulated participants (asyncio, one keep-alive connection and cookie
jar each) then go through the whole journey over HTTP, ``rounds`` times each: the open link,
consent, instructions, every game turn (valid form values read from the page) and the
completion code. The server's rate limit is raised: every simulated person comes from
127.0.0.1, where real ones each have an address of their own.

Two ways to load it, both measured by `mercato bench studio`:
- **capacity** (no ``rate``): each round, every participant arrives, then all start their games
  at once and answer as fast as pages come back. Decisions per second over the game phases is
  what the server sustains; page latency here is mostly queueing (N people always waiting).
- **paced** (``rate``): the crowd offers ``rate`` decisions per second (each person arrives at
  their own moment and decides once per ``N / rate`` seconds, as people who read and think).
  Each person goes through their participations back to back (a steady load). The latency
  of every GET and POST then says how fast pages come at that load, and the decisions sent
  more than an interval late say whether the server kept up.
Measured: decisions accepted per second, page latency (median, p95), participations completed,
errors, and the CPU seconds of server and participants (they share the machine's cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sim.bench.presets import presets

TARGET_DECISIONS_PER_S = 200.0
TARGET_MEDIAN_MS = 50.0
PAGE_LIMIT = 200
"""Pages one participation may take before it counts as stuck (an error)."""
REQUEST_TIMEOUT_S = 60.0
"""How long one page may take to answer before the participant counts it as an error."""
_CODE = re.compile(r'<code id="code">([^<]+)</code>')


@dataclass
class Tally:
    """What the participants saw: request latencies, decisions accepted, codes and errors."""

    latencies_s: list[float] = field(default_factory=list)
    decisions: int = 0
    refused: int = 0
    late: int = 0
    """Paced decisions sent more than one interval after their time (the server lagged)."""
    completed: int = 0
    codes: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    game_s: float = 0.0
    decided_at: list[float] = field(default_factory=list)
    """When each decision was accepted (perf_counter seconds)."""
    span_s: float = 0.0
    """Seconds from each round's first accepted decision to its last, summed over rounds."""
    spanned: int = 0
    """Decision intervals within those spans (decisions - 1 per round)."""

    def close_round(self, first: int) -> None:
        """Add the round whose decisions start at ``decided_at[first]`` to the spans."""
        times = self.decided_at[first:]
        if len(times) > 1:
            self.span_s += max(times) - min(times)
            self.spanned += len(times) - 1


@dataclass(frozen=True)
class StudioBench:
    """One bench run's numbers."""

    participants: int
    rounds: int
    rate: float | None
    """Decisions per second the crowd offered (None: as fast as the server answered)."""
    decisions: int
    refused: int
    late: int
    completed: int
    distinct_codes: int
    requests: int
    errors: tuple[str, ...]
    game_s: float
    span_s: float
    spanned: int
    median_ms: float
    p95_ms: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    server_cpu_s: float
    client_cpu_s: float
    """CPU time of the simulated participants (this process), on the same cores as the server."""

    @property
    def decisions_per_s(self) -> float:
        """Decisions over the timed phases (game starts and ends included)."""
        return self.decisions / self.game_s if self.game_s > 0 else 0.0

    @property
    def steady_per_s(self) -> float:
        """Decisions per second from each round's first decision to its last: the rate the
        server kept up (at a paced load, the offered rate when it kept up)."""
        return self.spanned / self.span_s if self.span_s > 0 else 0.0


# --- the participants' side ---


_TAG = re.compile(r"<(/?select|input|button|option|textarea)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'([A-Za-z_:][\w:.-]*)(?:="([^"]*)")?')


@dataclass
class _Form:
    """The page's form controls: hidden fields, choices (radios, selects), numbers (their
    minimum), checkboxes, text fields and named buttons. Read with a regex, not an HTML
    parser: the participants share the machine with the server they measure."""

    hidden: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    checks: dict[str, list[str]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, page: str) -> _Form:
        form, select = cls(), None
        for match in _TAG.finditer(page):
            tag = match.group(1).lower()
            a = {k.lower(): html.unescape(v or "") for k, v in _ATTR.findall(match.group(2))}
            name, kind = a.get("name", ""), a.get("type", "")
            if tag == "input" and kind == "hidden":
                form.hidden[name] = a.get("value", "")
            elif tag == "input" and kind == "radio":
                form.choices.setdefault(name, []).append(a.get("value", ""))
            elif tag == "input" and kind == "checkbox":
                form.checks.setdefault(name, []).append(a.get("value", ""))
            elif tag == "input" and kind == "number":
                form.numbers[name] = a.get("min", "0")
            elif tag == "textarea" or (tag == "input" and kind == "text"):
                form.texts.append(name)
            elif tag == "select":
                select = name
                form.choices[name] = []
            elif tag == "/select":
                select = None
            elif tag == "option" and select is not None:
                form.choices[select].append(a.get("value", ""))
            elif tag == "button" and name:
                form.buttons.append((name, a.get("value", "")))
        return form


def answer(page: str, prefer: Mapping[str, str]) -> dict[str, Any]:
    """Form values for a page: a preferred button, option or number where the page has that
    field (the server checks numbers: one out of bounds is refused and counted), else the last
    button, the first option and the lowest number of every field."""
    form = _Form.of(page)
    data: dict[str, Any] = dict(form.hidden)
    if form.buttons:
        offered = [(n, v) for n, v in form.buttons if prefer.get(n) == v]
        name, value = (offered or form.buttons)[-1]
        return data | {name: value}
    for name, options in form.choices.items():
        options = [o for o in options if o] or options
        data[name] = prefer[name] if prefer.get(name) in options else options[0]
    data |= {name: prefer.get(name, low) for name, low in form.numbers.items()}
    data |= {name: options[:1] for name, options in form.checks.items()}
    data |= dict.fromkeys(form.texts, "ok")
    return data


@dataclass(frozen=True)
class _Response:
    status_code: int
    headers: dict[str, str]
    text: str


class _Browser:
    """One participant's HTTP/1.1 keep-alive connection and cookies, on asyncio streams (a
    general client costs the shared cores several times what these few lines do)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, data: Mapping[str, Any] | None = None
    ) -> _Response:
        if self._streams is None:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._streams = reader, writer
        reader, writer = self._streams
        body = urlencode(data or {}, doseq=True).encode() if method == "POST" else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if method == "POST":
            head += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
            ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status, headers = int(lines[0].split()[1]), {}
        for line in filter(None, lines[1:]):
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            headers[key] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return _Response(status, headers, content.decode("utf-8", "replace"))

    async def aclose(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _request(client: Any, tally: Tally, method: str, url: str, **kw: Any) -> Any:
    began = time.perf_counter()
    response = await asyncio.wait_for(client.request(method, url, **kw), REQUEST_TIMEOUT_S)
    tally.latencies_s.append(time.perf_counter() - began)
    if response.status_code not in (200, 303):
        raise RuntimeError(f"{method} {url}: HTTP {response.status_code}: {response.text[:200]}")
    return response


async def _arrive(client: Any, study: str, prefer: Mapping[str, str], tally: Tally) -> str:
    """Open link, consent and instructions: the participant's private link, at the game."""
    opened = await _request(client, tally, "GET", f"/s/{study}")
    if opened.status_code != 303:
        raise RuntimeError(f"/s/{study}: no link (the study is full?): {opened.text[:200]}")
    link = opened.headers["location"]
    page = await _request(client, tally, "GET", link)
    for step in ("consent", "start"):
        data = answer(page.text, prefer)
        if data.get("step") != step:
            raise RuntimeError(f"{link}: expected the {step} form, got {page.text[:200]}")
        await _request(client, tally, "POST", link, data=data)
        if step == "consent":
            page = await _request(client, tally, "GET", link)
    return link


async def _play(
    client: Any,
    link: str,
    prefer: Mapping[str, str],
    tally: Tally,
    interval_s: float | None = None,
) -> None:
    """Every game turn (valid values read from each page), to the completion code; with
    ``interval_s``, one decision per interval (a person's thinking), else as fast as answered."""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    page = await _request(client, tally, "GET", link)
    for _ in range(PAGE_LIMIT):
        found = _CODE.search(page.text)
        if found:
            tally.completed += 1
            tally.codes.add(found.group(1))
            return
        if 'id="waiting"' in page.text or 'id="thinking"' in page.text:
            page = await _request(client, tally, "GET", link)
            continue
        data = answer(page.text, prefer)
        if interval_s is not None:
            next_at += interval_s
            ahead = next_at - loop.time()
            if ahead < -interval_s:  # a whole interval behind: the server did not keep up
                tally.late += 1
            await asyncio.sleep(max(0.0, ahead))
        sent = await _request(client, tally, "POST", link, data=data)
        if 'id="turn-error"' in sent.text:
            tally.refused += 1
        else:
            tally.decisions += 1  # answered with the page that follows the decision
            tally.decided_at.append(time.perf_counter())
        page = sent
    raise RuntimeError(f"{link}: no completion code after {PAGE_LIMIT} pages")


async def _crowd(
    base_url: str,
    study: str,
    participants: int,
    rounds: int,
    prefer: Mapping[str, str],
    rate: float | None = None,
) -> Tally:
    """``rounds`` times: every participant arrives (link, consent, instructions), then all
    start the game together; the game phase runs from that start to the last code.

    With ``rate`` (decisions per second offered by the crowd), each person instead arrives at
    their own moment (spread over one decision interval) and decides once per interval
    (``participants / rate`` seconds); the timed phase then runs from the first arrival."""
    if rate is not None:
        return await _paced_crowd(base_url, study, participants, rounds, prefer, rate)
    tally = Tally()
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    clients = [_Browser(host, int(port)) for _ in range(participants)]

    async def guarded(step: Any) -> Any:
        try:
            return await step
        except Exception as error:  # counted; the others go on
            tally.errors.append(f"{type(error).__name__}: {error}"[:300])
            return None

    try:
        for _ in range(rounds):
            for client in clients:
                client.cookies.clear()  # each participation is a new person
            links = await asyncio.gather(
                *(guarded(_arrive(c, study, prefer, tally)) for c in clients)
            )
            began, first = time.perf_counter(), len(tally.decided_at)
            await asyncio.gather(
                *(
                    guarded(_play(c, k, prefer, tally))
                    for c, k in zip(clients, links, strict=True)
                    if k
                )
            )
            tally.game_s += time.perf_counter() - began
            tally.close_round(first)
    finally:
        for client in clients:
            await client.aclose()
    return tally


async def _paced_crowd(
    base_url: str,
    study: str,
    participants: int,
    rounds: int,
    prefer: Mapping[str, str],
    rate: float,
) -> Tally:
    """`_crowd` at an offered ``rate``: each person starts at their own moment (spread over one
    decision interval), then goes through their ``rounds`` participations back to back, one
    decision per interval: a steady load, with no pause between rounds."""
    tally = Tally()
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    interval_s = participants / rate

    async def person(index: int) -> None:
        client = _Browser(host, int(port))
        try:
            await asyncio.sleep(index * interval_s / participants)
            for _ in range(rounds):
                client.cookies.clear()  # each participation is a new person
                link = await _arrive(client, study, prefer, tally)
                await _play(client, link, prefer, tally, interval_s)
        except Exception as error:  # counted; the others go on
            tally.errors.append(f"{type(error).__name__}: {error}"[:300])
        finally:
            await client.aclose()

    began = time.perf_counter()
    await asyncio.gather(*(person(i) for i in range(participants)))
    tally.game_s += time.perf_counter() - began
    tally.close_round(0)
    return tally


# --- the server's side ---


def bench_study(study: Mapping[str, Any] | None, slots: int) -> dict[str, Any]:
    """The study to serve: ``study`` (or the preset's) with room for ``slots`` participations
    in every arm (the open link balances arms, so each may take them all)."""
    data = dict(study if study is not None else presets()["studio"]["study"])
    data["participants_per_arm"] = slots
    data.setdefault("abandon_after_s", 3600)
    return data


@contextmanager
def serve(root: Path, study: Mapping[str, Any]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A studio server for ``study`` under ``root`` in a subprocess: its base URL, while it
    runs (stopped with SIGINT, so the lifespan closes the study's run)."""
    spec = root / "bench-study.json"
    spec.write_text(json.dumps(dict(study)), encoding="utf-8")
    command = [sys.executable, "-m", "sim.bench.studio", str(root), str(spec)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("port "):
            raise RuntimeError(f"the studio server did not start (exit {process.wait(30)})")
        yield f"http://127.0.0.1:{int(line.split()[1])}", process
    finally:
        if process.poll() is None:
            process.send_signal(2)  # SIGINT: uvicorn's graceful shutdown
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _cpu_s(pid: int) -> float:
    """CPU seconds of the server process and its live children (the shard committer)."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def bench(
    participants: int = 50,
    rounds: int = 2,
    study: Mapping[str, Any] | None = None,
    prefer: Mapping[str, str] | None = None,
    root: Path | None = None,
    rate: float | None = None,
) -> StudioBench:
    """Serve the study and play ``participants`` concurrent people ``rounds`` times each, as
    fast as the server answers or (``rate``) offering that many decisions per second."""
    prefer = dict(presets()["studio"]["prefer"] if prefer is None else prefer)
    with _scratch(root) as work:
        data = bench_study(study, participants * rounds)
        with serve(work, data) as (url, process):
            load_before = os.getloadavg()
            cpu_before, client_before = _cpu_s(process.pid), time.process_time()
            crowd = _crowd(url, data["name"], participants, rounds, prefer, rate)
            tally = asyncio.run(crowd)
            cpu = _cpu_s(process.pid) - cpu_before
            client_cpu = time.process_time() - client_before
            load_after = os.getloadavg()
    latencies = sorted(tally.latencies_s) or [0.0]
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return StudioBench(
        participants=participants,
        rounds=rounds,
        rate=rate,
        decisions=tally.decisions,
        refused=tally.refused,
        late=tally.late,
        completed=tally.completed,
        distinct_codes=len(tally.codes),
        requests=len(tally.latencies_s),
        errors=tuple(tally.errors),
        game_s=tally.game_s,
        span_s=tally.span_s,
        spanned=tally.spanned,
        median_ms=statistics.median(latencies) * 1000,
        p95_ms=p95 * 1000,
        load_before=load_before,
        load_after=load_after,
        server_cpu_s=cpu,
        client_cpu_s=client_cpu,
    )


@contextmanager
def _scratch(root: Path | None) -> Iterator[Path]:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="mercato-bench-studio-") as folder:
        yield Path(folder)


def _main(root: str, spec: str) -> None:
    """The server subprocess: build the studio, bind a free port, say which, serve."""
    import uvicorn

    from sim.studio.config import Limits
    from sim.studio.server import build_studio

    study = json.loads(Path(spec).read_text(encoding="utf-8"))
    limits = Limits(requests_per_s=1e9, burst=10**9)  # one address for every simulated person
    app = build_studio(root, studies=[study], limits=limits)
    # proto IPPROTO_TCP, as uvicorn's own sockets have: asyncio sets TCP_NODELAY only then (with
    # proto 0 every page's body waits ~40 ms for the client's delayed ACK of its headers)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections queue from here on, while the lifespan opens the study
    print(f"port {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=1024)
    with contextlib.suppress(KeyboardInterrupt):  # the bench's SIGINT, re-raised when shut down
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    _main(*sys.argv[1:3])
