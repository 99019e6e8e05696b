"""The studio's read-only pages: runs, a run's report and episodes, an episode turn by turn,
and `mercato studio`'s command line."""

from __future__ import annotations

import re
from html import escape, unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sim.report.cells import build_report
from sim.store import load
from sim.studio.app import create_app
from sim.studio.config import StudioConfig
from tests.studio.studio_runs import make_root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("studio-runs"))


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(create_app(StudioConfig(root=str(root))))


def rows_of(html: str, table_id: str) -> list[list[str]]:
    """The body rows of table ``table_id`` as lists of cell texts."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = table.group(0).split("</thead>", 1)[-1]
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_runs_page_lists_runs_with_status_and_progress(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    rows = {row[0]: row for row in rows_of(page.text, "runs")}
    assert set(rows) == {"bargain", "suite/leaky", "broken"}
    bargain = rows["bargain"]
    assert bargain[1:4] == ["studio-bargain", "mercato/Bargaining-v0", "complete"]
    assert bargain[4] == "9/9"  # 3 cells x 3 episodes
    assert "fk (fake)" in bargain[5]
    assert rows["suite/leaky"][4] == "2/2"  # the base cell and the LLM cell
    assert "cannot read this run" in rows["broken"][1]  # its own row, not a 500


def test_run_page_shows_the_numbers_of_mercato_report(client: TestClient, root: Path) -> None:
    report = build_report(root / "bargain")
    page = client.get("/runs/bargain")
    assert page.status_code == 200
    shown = {}
    for match in re.finditer(
        r'<tr data-cell="([^"]+)" data-metric="([^"]+)">(.*?)</tr>', page.text, re.S
    ):
        cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', match.group(3))
        shown[(match.group(1), unescape(match.group(2)))] = cells
    assert len(shown) == len(report)
    for row in report.itertuples():
        n, mean, interval = shown[(row.cell_id, row.metric)]
        assert n == str(row.n)
        assert mean == ("-" if row.mean != row.mean else f"{row.mean:.4g}")
        if not row.copies and row.ci_low == row.ci_low:
            assert interval == f"[{row.ci_low:.4g}, {row.ci_high:.4g}]"
    assert "HIGH FALLBACK" in page.text or rows_of(page.text, "llm")  # the LLM table is there
    for row in report.drop_duplicates("cell_id").itertuples():  # cells keyed as the CLI keys them
        assert f">{escape(row.key)}</td>" in page.text, row.key


def test_run_page_filters_by_cell_and_outcome(client: TestClient, root: Path) -> None:
    episodes, _ = load(root / "bargain")
    cell = sorted(episodes["cell_id"].unique())[1]
    page = client.get(f"/runs/bargain?cell={cell}&outcome=deal")
    cells = set(re.findall(r'<tr data-cell="([^"]+)"', page.text))
    metrics = set(re.findall(r'data-metric="([^"]+)"', page.text))
    assert cells == {cell} and metrics == {"deal"}
    listed = [row[0] for row in rows_of(page.text, "episodes")]
    assert listed == sorted(episodes.loc[episodes["cell_id"] == cell, "episode_id"])
    # an outcome range keeps only the episodes inside it
    low = client.get("/runs/bargain?outcome=alice_share&max=0.0001")
    assert rows_of(low.text, "episodes") == []
    bad = client.get("/runs/bargain?cell=<script>&sort=nope&page=x")
    assert bad.status_code == 200 and "<script>" not in bad.text


@pytest.mark.parametrize("column", ["metric_alice_share", "return_bob_0"])
def test_episode_table_sorts_by_any_metric(client: TestClient, root: Path, column: str) -> None:
    episodes, _ = load(root / "bargain")
    for order, descending in (("desc", True), ("asc", False)):
        page = client.get(f"/runs/bargain?sort={column}&order={order}")
        listed = [row[0] for row in rows_of(page.text, "episodes")]
        expected = episodes.sort_values(
            [column, "episode_id"], ascending=[not descending, True], kind="stable"
        )["episode_id"].tolist()
        assert listed == expected


def test_episode_page_shows_every_turn(client: TestClient, root: Path) -> None:
    episodes, steps = load(root / "bargain")
    llm_episode = episodes.loc[episodes["roster"].str.contains("llm"), "episode_id"].iloc[0]
    page = client.get(f"/runs/bargain/episodes/{llm_episode}")
    assert page.status_code == 200
    html = unescape(page.text)
    turns = steps[(steps["episode_id"] == llm_episode) & steps["action"].notna()]
    assert len(re.findall(r'<li class="turn ', page.text)) == len(turns)
    for index, turn in enumerate(turns.itertuples()):
        block = html.split(f'id="t{index}"', 1)[1].split("</li>", 1)[0]
        assert turn.agent in block
        if isinstance(turn.observation_text, str):  # shown as what it saw, not only in the prompt
            seen = re.search(r'<pre class="obs-text">(.*?)</pre>', block, re.S)
            assert seen and seen.group(1).strip() == turn.observation_text.strip()
        if isinstance(turn.parse_status, str):
            assert f"path-{turn.parse_status}" in html.split(f'id="t{index}"', 1)[0][-80:]
            for reply in re.findall(r'"((?:[^"\\]|\\.)*)"', turn.reply or "")[:1]:
                assert reply in block
        else:
            assert "scripted policy" in block
    final = dict(r[:2] for r in rows_of(page.text, "final-metrics"))
    assert (
        final["deal"] == f"{episodes.set_index('episode_id').loc[llm_episode, 'metric_deal']:.4g}"
    )
    assert client.get("/runs/bargain/episodes/nope").status_code == 404


def test_plots_are_the_report_pngs(client: TestClient) -> None:
    page = client.get("/runs/bargain?outcome=deal")
    assert 'src="/runs/bargain/plots/deal.png"' in page.text
    png = client.get("/runs/bargain/plots/deal.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert client.get("/runs/bargain/plots/nope.png").status_code == 404


def test_cli_refuses_a_missing_root(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sim.cli import app

    result = CliRunner().invoke(app, ["studio", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no such folder" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def family_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import sim

    root = tmp_path_factory.mktemp("studio-families")
    sim.run(
        {"name": "market", "env": "mercato/Marketplace-v0",
         "params": {"n_customers": 2, "market_seed": 0, "search_algorithm": "perfect",
                    "max_ticks": 6},
         "roster": {"customer": "marketplace/careful", "business": "marketplace/honest"},
         "episodes": 1},
        workers=0, out=str(root / "market"),
    )  # fmt: skip
    sim.run(
        {"name": "trial", "env": "mercato/ManipulationTrial-v0",
         "params": {"tasks": 1, "min_exchanges": 2, "max_exchanges": 3, "assistant_type": "MA"},
         "roster": {"user": "trials/parametric", "assistant": "trials/assistant"},
         "episodes": 1},
        workers=0, out=str(root / "trial"),
    )  # fmt: skip
    return root


def test_family_timelines_come_from_the_env_spec(family_root: Path) -> None:
    client = TestClient(create_app(StudioConfig(root=str(family_root))))
    market = client.get("/runs/market/episodes/c000-e00000")
    events = rows_of(market.text, "timeline")
    kinds = {row[1] for row in events}
    assert {"search", "message", "propose", "pay"} <= kinds
    assert {row[0] for row in events} == {"customer_0", "customer_1"}
    assert any(row[4] for row in events)  # events link to turns
    for row in events:  # each event links to a turn of the page that exists
        if row[4]:
            assert f'id="t{row[4].removeprefix("#t")}"' in market.text
    trial = client.get("/runs/trial/episodes/c000-e00000")
    kinds = [row[1] for row in rows_of(trial.text, "timeline")]
    assert kinds[0] == "ratings before" and "ratings after" in kinds and kinds[-1] == "hindsight"
    assert "message" in kinds
    assert client.get("/runs/trial").status_code == 200  # with the study-form table
    assert 'id="study"' in client.get("/runs/trial").text
