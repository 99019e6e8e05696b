"""A study with people through HTTP: one manipulation-trial participation from the open link to
the completion code (consent, instructions, every turn) against the scripted assistant; the episode
is recorded and reported like a simulated one; nothing a participant receives holds what their role
must not see (the assistant's hidden objective and target) or links anywhere else; admin pages
need the token."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from sim.cli.app import app as cli
from sim.store import load
from sim.studio.server import build_studio
from sim.studio.studies import load_study

REPO = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-123"
ADMIN_PATHS = ("/admin", "/runs", "/login", 'href="/"', "/play")


class FormReader(HTMLParser):
    """The POST form of a page: hidden fields, and every control with its options."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.numbers: dict[str, tuple[str, str]] = {}
        self.checks: dict[str, list[str]] = {}
        self.texts: list[str] = []
        self.selects: dict[str, list[str]] = {}
        self.buttons: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name, kind = a.get("name", ""), a.get("type", "")
        if tag == "input" and kind == "hidden":
            self.hidden[name] = a.get("value", "")
        elif tag == "input" and kind == "radio":
            self.radios.setdefault(name, []).append(a.get("value", ""))
        elif tag == "input" and kind == "checkbox":
            self.checks.setdefault(name, []).append(a.get("value", ""))
        elif tag == "input" and kind == "number":
            self.numbers[name] = (a.get("min", "1"), a.get("max", "1"))
        elif tag == "textarea" or (tag == "input" and kind == "text"):
            self.texts.append(name)
        elif tag == "select":
            self._select = name
            self.selects[name] = []
        elif tag == "option" and self._select is not None:
            self.selects[self._select].append(a.get("value", ""))
        elif tag == "button" and name:
            self.buttons.append((name, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def answer(page: str) -> dict[str, Any]:
    """A scripted participant's answer to a turn page: the last button (the trial's chat offers
    "END" last once it may end), else the first option and the lowest number of every field."""
    form = FormReader()
    form.feed(page)
    data: dict[str, Any] = dict(form.hidden)
    if form.buttons:
        name, value = form.buttons[-1]
        return data | {name: value}
    for name, options in {**form.radios, **form.selects}.items():
        data[name] = next((o for o in options if o), options[0])
    for name, (low, _) in form.numbers.items():
        data[name] = low
    for name, options in form.checks.items():
        data[name] = options[:1]
    for name in form.texts:
        data[name] = "ok"
    return data


def participate(
    client: TestClient, link: str, prefer: dict[str, str] | None = None, limit: int = 60
) -> tuple[str, list[str]]:
    """Go from ``link`` to the completion code; the code and every page received. ``prefer``
    sets fields of every turn that offers those values."""
    pages: list[str] = []
    page = client.get(link)
    pages.append(page.text)
    assert page.status_code == 200, page.text
    url = str(page.url)
    for _ in range(limit):
        found = re.search(r'<code id="code">([^<]+)</code>', page.text)
        if found:
            return found.group(1), pages
        if 'id="waiting"' in page.text:
            page = client.get(url)
        else:
            data = answer(page.text)
            data |= {
                k: v for k, v in (prefer or {}).items() if k in data and f'value="{v}"' in page.text
            }
            page = client.post(url, data=data)
        pages.append(page.text)
        assert page.status_code == 200, page.text
    raise AssertionError(f"no completion code after {limit} pages: {page.text[:2000]}")


def trial_study() -> dict[str, Any]:
    """studies/trial.yaml, short, with its MA arm only (the arm with something to hide)."""
    data = yaml.safe_load((REPO / "studies" / "trial.yaml").read_text())
    data["params"] |= {"min_exchanges": 2, "max_exchanges": 3}
    data["grid"] = {"assistant_type": ["MA"]}
    data["participants_per_arm"] = 2
    return data


def hidden_strings(root: Path, study: Any) -> list[str]:
    """What the participant's role must not see: the assistant's own view of the episode (its
    hidden objective, the user's best option, its target), line by line, less the lines of the
    user's own view (both rendered here from the recorded observations, so a page that leaked
    while it was served cannot hide the leak from the scan)."""
    from envs.core.protocol import protocol_of
    from envs.core.registry import make_env
    from sim.export.rehydrate import from_json

    episodes, steps = load(root / study.name)
    cells = {cell.cell_id: cell for cell in study.experiment.cells()}
    env = make_env(study.experiment.env, cells[episodes.loc[0, "cell_id"]].params)
    protocol = protocol_of(env)

    def views(agent: str) -> list[str]:
        space = env.observation_space(agent)
        observed = steps.loc[steps["agent"] == agent, "observation"]
        return [protocol.render(from_json(o, space), agent) for o in observed]

    user_seen = "\n".join(views("user_0"))
    lines: set[str] = set()
    for text in views("assistant_0"):
        lines |= {line for line in text.splitlines() if len(line) > 20 and line not in user_seen}
    return sorted(lines)


def leaks(pages: list[str], hidden: list[str]) -> list[str]:
    """Each hidden line, and each admin or elsewhere link, that some page holds."""
    found = [line for line in hidden if any(line in page for page in pages)]
    return found + [path for path in ADMIN_PATHS if any(path in page for page in pages)]


@pytest.fixture
def study_root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def test_a_trial_participation_from_open_link_to_completion_code(study_root: Path) -> None:
    study_root.mkdir()
    server = build_studio(study_root, admin_token=TOKEN, studies=[trial_study()])
    with TestClient(server) as client:
        opened = client.get("/s/trial-pilot", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"].startswith("/p/")
        link = opened.headers["location"]
        consent = client.get(link)
        assert 'id="consent"' in consent.text and "research study" in consent.text
        stale = client.post(link, data={"step": "consent", "csrf_token": "forged"})
        assert stale.status_code == 403  # CSRF
        code, pages = participate(client, link)
        assert code.startswith("MC-")
        assert any('id="instructions"' in p for p in pages)
        turns = [p for p in pages if 'name="number"' in p]
        assert len(turns) >= 4  # ratings, chat turns, the choice, satisfaction
        again = client.get(link)  # coming back after the end: the code again
        assert code in again.text
        assert client.get("/p/" + "x" * 32).status_code == 404
        admin = client.get("/admin/studies")
        assert admin.status_code == 401
        data = client.get("/admin/studies/trial-pilot/data")
        assert data.status_code == 401
        links = client.post("/admin/studies/trial-pilot/links", data={"count": "1"})
        assert links.status_code == 401
        auth = {"authorization": f"Bearer {TOKEN}"}
        progress = client.get("/admin/studies", headers=auth)
        assert progress.status_code == 200 and "trial-pilot" in progress.text
        csv = client.get("/admin/studies/trial-pilot/data", headers=auth)
        assert csv.status_code == 200 and csv.text.count("\n") == 2  # header + one episode
        pages.append(again.text)

    episodes, steps = load(study_root / "trial-pilot")
    assert len(episodes) == 1
    user = steps[(steps["agent"] == "user_0") & steps["action"].notna()]
    assert set(user["policy"]) == {"human"} and len(user) == len(turns)
    result = CliRunner().invoke(cli, ["report", str(study_root / "trial-pilot")])
    assert result.exit_code == 0, result.output
    assert "HOD: simulated (95% interval) vs Sabour et al. (2025)" in result.output  # study form

    hidden = hidden_strings(study_root, load_study(trial_study()))
    assert any("Your target" in line for line in hidden)  # the scan looks for the right things
    assert leaks(pages, hidden) == []


def test_a_full_study_says_so_and_bad_names_are_404(study_root: Path) -> None:
    study_root.mkdir()
    data = trial_study() | {"participants_per_arm": 1, "grid": {"assistant_type": ["NA", "MA"]}}
    with TestClient(build_studio(study_root, studies=[data])) as client:
        assert client.get("/s/trial-pilot", follow_redirects=False).status_code == 303
        assert client.get("/s/trial-pilot", follow_redirects=False).status_code == 303
        full = client.get("/s/trial-pilot")
        assert "study is full" in full.text
        assert client.get("/s/..%2Fetc").status_code == 404
        assert client.get("/s/other").status_code == 404


def test_cli_refuses_a_bad_study_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(trial_study() | {"participants_per_arm": 0}))
    result = CliRunner().invoke(cli, ["studio", str(tmp_path), "--study", str(bad)])
    assert result.exit_code == 2
    assert "participants_per_arm" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_scan_finds_a_leaked_target(study_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan above can fail: with the user's view rendered with the assistant's agenda line
    appended (its hidden target), a participation's pages leak and `leaks` names the line."""
    from envs.core.names import role_of
    from envs.trials.env import raw_env
    from envs.trials.protocol import TrialProtocol
    from envs.trials.protocol_views import agenda_lines

    study_root.mkdir()
    envs: list[Any] = []
    observe, render = raw_env.observe, TrialProtocol.render

    def observing(self: Any, agent: str) -> Any:
        envs.append(self)
        return observe(self, agent)

    def leaky(self: Any, observation: Any, agent: str) -> str:
        text = render(self, observation, agent)
        if role_of(agent) == "user" and envs:
            text += "\n" + "\n".join(agenda_lines(observe(envs[-1], "assistant_0")))
        return text

    with monkeypatch.context() as patch:
        patch.setattr(raw_env, "observe", observing)
        patch.setattr(TrialProtocol, "render", leaky)
        with TestClient(build_studio(study_root, studies=[trial_study()])) as client:
            link = client.get("/s/trial-pilot", follow_redirects=False).headers["location"]
            _, pages = participate(client, link)
    hidden = hidden_strings(study_root, load_study(trial_study()))
    found = leaks(pages, hidden)
    assert any("Your target" in line for line in found), found
