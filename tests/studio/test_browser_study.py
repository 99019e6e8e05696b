"""A study with people in a real browser (headless Chromium): one manipulation-trial participation
from the open link to the completion code against the scripted assistant (the MA arm), filling
the controls each turn shows; the episode loads with `sim.store.load` and `mercato report` prints
it in the study-form table. Screenshots of consent, instructions, a turn and the completion page
go to ``$MERCATO_SCREENSHOTS`` (else the test's tmp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sim.store import load
from sim.studio.server import build_studio
from tests.studio.browser import (  # noqa: F401  (fixtures)
    browser_fixture,
    page_fixture,
    serve,
    shots_fixture,
)
from tests.studio.test_study_pages import trial_study

pytestmark = pytest.mark.slow
MAX_PAGES = 60


def fill_turn(page: Any) -> None:
    """Answer the turn the page shows as a person would: the last button where the form offers
    buttons (the chat's END once it may end), else the first option of every choice, the lowest
    number of every number field, the first box of every checkbox group and a short message."""
    form = page.locator("#turn-form")
    buttons = form.locator(".buttons button")
    if buttons.count():
        with page.expect_navigation():
            buttons.last.click()
        return
    radios = form.locator('input[type="radio"]')
    for name in dict.fromkeys(radios.evaluate_all("els => els.map(e => e.name)")):
        form.locator(f'input[type="radio"][name="{name}"]').first.check()
    for select in form.locator("select").all():
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        select.select_option(next(v for v in values if v))
    for number in form.locator('input[type="number"]').all():
        number.fill(number.get_attribute("min") or "0")
    boxes = form.locator('input[type="checkbox"]')
    for name in dict.fromkeys(boxes.evaluate_all("els => els.map(e => e.name)")):
        form.locator(f'input[type="checkbox"][name="{name}"]').first.check()
    for text in form.locator("textarea").all():
        text.fill("Which option would you pick for me?")
    with page.expect_navigation():
        page.click("#submit-turn")


def test_a_trial_participation_in_the_browser(tmp_path: Path, page: Any, shots: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    turns = 0
    with serve(build_studio(root, studies=[trial_study()])) as base:
        page.goto(base + "/s/trial-pilot")
        assert "/p/" in page.url
        assert "research study" in page.inner_text("#consent")
        page.screenshot(path=str(shots / "study-consent.png"), full_page=True)
        with page.expect_navigation():
            page.click("#agree")
        assert page.locator("#instructions").count() == 1
        page.screenshot(path=str(shots / "study-instructions.png"), full_page=True)
        with page.expect_navigation():
            page.click("#start")
        for _ in range(MAX_PAGES):
            page.wait_for_selector("#turn-form, #code, #waiting")
            if page.locator("#code").count():
                break
            if page.locator("#waiting").count():  # the page reloads by itself
                page.wait_for_selector("#turn-form, #code", timeout=10_000)
                continue
            if turns == 2:
                page.screenshot(path=str(shots / "study-turn.png"), full_page=True)
            fill_turn(page)
            turns += 1
        code = page.inner_text("#code")
        assert code.startswith("MC-"), page.content()[-2000:]
        page.screenshot(path=str(shots / "study-done.png"), full_page=True)
        assert turns >= 4  # ratings, chat turns, the choice, satisfaction
        page.goto(page.url)  # the link again after the end: the same code
        assert page.inner_text("#code") == code

    run = root / "trial-pilot"
    episodes, steps = load(run)
    assert len(episodes) == 1
    user = steps[(steps["agent"] == "user_0") & steps["action"].notna()]
    assert len(user) == turns and set(user["policy"]) == {"human"}
    from sim.cli.app import app as cli

    result = CliRunner().invoke(cli, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "HOD: simulated (95% interval) vs Sabour et al. (2025)" in result.output  # study form
