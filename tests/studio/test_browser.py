"""The studio in a real browser (headless Chromium): open a run, open an episode and step
through it with the keyboard; play bargaining as Bob against the equilibrium Alice to the end
and find the episode in `sim.store.load` and `mercato report`. Screenshots of each page go to
``$MERCATO_SCREENSHOTS`` (else the test's tmp dir)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sim.store import load
from sim.studio.app import create_app
from sim.studio.config import StudioConfig
from sim.studio.play_pages import enable_play, play_routes
from tests.studio.browser import (  # noqa: F401  (fixtures)
    browser_fixture,
    page_fixture,
    serve,
    shots_fixture,
)
from tests.studio.studio_runs import make_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("studio-browser"))


def test_open_a_run_and_step_through_an_episode(root: Path, page: Any, shots: Path) -> None:
    with serve(create_app(StudioConfig(root=str(root)))) as base:
        page.goto(base + "/")
        page.screenshot(path=str(shots / "runs.png"), full_page=True)
        page.click('a[href="/runs/bargain"]')
        page.wait_for_url(base + "/runs/bargain")
        page.screenshot(path=str(shots / "run.png"), full_page=True)
        page.locator('a[href^="/runs/bargain/episodes/"]').first.click()
        page.wait_for_url(re.compile(r"/runs/bargain/episodes/[^#]+$"))
        turns = page.locator("li.turn").count()
        assert turns >= 2
        assert page.locator("li.turn.current").count() == 0
        for _ in range(3):  # past the last turn it stays there
            page.keyboard.press("ArrowRight")
        last = min(2, turns - 1)
        assert page.url.endswith(f"#t{last}")
        assert page.locator("li.turn.current").get_attribute("id") == f"t{last}"
        assert page.locator("#turn-position").inner_text() == f"turn {last + 1} of {turns}"
        page.keyboard.press("ArrowLeft")
        assert page.url.endswith(f"#t{max(0, last - 1)}")
        page.keyboard.press("ArrowRight")
        page.screenshot(path=str(shots / "episode.png"), full_page=False)
        page.reload()
        assert page.url.endswith(f"#t{last}")
        assert page.locator("li.turn.current").get_attribute("id") == f"t{last}"


def test_play_bargaining_as_bob_to_the_end(tmp_path: Path, page: Any, shots: Path) -> None:
    app = create_app(StudioConfig(root=str(tmp_path)), extra_routes=play_routes())
    registry = enable_play(app, {"fk": "fake"})
    with serve(app) as base:
        page.goto(base + "/play")
        with page.expect_navigation():
            page.select_option("#env-select", "mercato/Bargaining-v0")  # JS submits it
        page.check('input[name="role"][value="bob"]')
        page.select_option("#opponent-alice", "bargaining/equilibrium")
        page.fill("#seed", "7")
        page.fill("#params", '{"horizon": 4}')
        page.click("#start-game")
        page.wait_for_url(re.compile(r"/play/[A-Za-z0-9_-]+$"))
        decisions, checked_bounds = 0, False
        for _ in range(20):
            page.wait_for_selector("#turn-form, #outcome")
            if page.locator("#outcome").count():
                break
            if decisions == 0:
                assert "You are Bob" in page.inner_text("#observation")
                page.screenshot(path=str(shots / "play.png"), full_page=True)
            offer = page.locator('input[name="bob_gets"]')
            if offer.count():
                if not checked_bounds:  # the browser itself refuses a share out of bounds
                    offer.fill("20000")
                    page.click("#submit-turn")
                    assert offer.evaluate("el => el.validity.rangeOverflow") is True
                    assert page.locator("#turn-form").count() == 1
                    checked_bounds = True
                offer.fill("6000")
            else:
                answer = "reject" if decisions == 0 else "accept"
                page.check(f'input[name="decision"][value="{answer}"]')
            with page.expect_navigation():
                page.click("#submit-turn")
            decisions += 1
            if decisions == 1:  # the answer's page came from a POST: a reload must not resend it
                page.reload()
                page.wait_for_selector("#turn")
                assert page.locator("#turn-error").count() == 0, page.content()[-2000:]
        assert page.locator("#outcome").count() == 1, page.content()[-2000:]
        assert checked_bounds and decisions >= 2
        assert page.inner_text("#outcome-reward")
        page.screenshot(path=str(shots / "play-finished.png"), full_page=True)
        replay = page.locator("#replay-link").get_attribute("href")
        assert replay and replay.startswith("/runs/play/")

    (entry,) = registry.entries.values()
    assert entry.closed.wait(20)
    run = tmp_path / entry.rel
    episodes, steps = load(run)
    assert len(episodes) == 1
    bob = steps[(steps["agent"] == "bob_0") & steps["action"].notna()]
    assert len(bob) == decisions and set(bob["policy"]) == {"human"}
    from sim.cli.app import app as cli

    result = CliRunner().invoke(cli, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "return_bob_0" in result.output


def test_a_business_proposes_lines_in_the_browser(tmp_path: Path, page: Any, shots: Path) -> None:
    """A marketplace business's proposal as rows of lines: choosing "propose" and an item shows
    only that item's quantity and price (the other branches hidden and not sent); the server
    takes the proposal."""
    app = create_app(StudioConfig(root=str(tmp_path)), extra_routes=play_routes())
    enable_play(app)
    with serve(app) as base:
        page.goto(base + "/play?env=mercato/Marketplace-v0")
        page.check('input[name="role"][value="business"]')
        page.fill("#seed", "3")
        page.click("#start-game")
        page.wait_for_url(re.compile(r"/play/[A-Za-z0-9_-]+$"))
        for _ in range(30):  # wait through turns where proposing is not offered yet
            page.wait_for_selector("#turn-form, #outcome")
            if page.locator('input[name="kind"][value="propose"]').count():
                break
            page.check('input[name="kind"][value="wait"]')
            with page.expect_navigation():
                page.click("#submit-turn")
        page.check('input[name="kind"][value="propose"]')
        page.locator('input[name="customer"]').first.check()
        first_item = page.locator('input[name="lines.0.item"]').first
        first_item.check()
        item = first_item.get_attribute("value")
        branch = page.locator(f'#f-lines-0 .branch[data-values="{item}"]')
        assert branch.is_visible()
        assert page.locator("#f-lines-0 .branch:visible").count() == 1  # the others hidden
        branch.locator('input[name="lines.0.quantity"]').fill("2")
        low = branch.locator('input[name="lines.0.unit_price"]').get_attribute("min")
        branch.locator('input[name="lines.0.unit_price"]').fill(str(low))
        expires = page.locator('input[name="expires_in"]')
        assert expires.evaluate("e => e.required")  # shown, and needed: the browser asks for it
        assert not page.locator('input[name="lines.1.quantity"]').first.evaluate("e => e.required")
        expires.fill("5")
        number = page.locator('input[name="number"]').get_attribute("value")
        with page.expect_navigation():
            page.click("#submit-turn")
        page.wait_for_selector("#turn")
        assert page.locator("#turn-error").count() == 0, page.inner_text("#turn")
        page.screenshot(path=str(shots / "play-business-after-proposal.png"), full_page=True)
        after = page.locator('input[name="number"]')
        assert after.count() == 0 or after.get_attribute("value") != number  # taken
