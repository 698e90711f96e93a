"""The session explorer in a real headless Chromium against real service processes.

Debian's /usr/bin/chromium is driven by Playwright (never `playwright install`: nothing
is downloaded at run time); a missing browser fails the test, it does not skip.
Screenshots of each view land in `test-artifacts/explorer/` (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, ConsoleMessage, Page, Route, async_playwright, expect

from lifeline_servers import RunningServer
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.redis_dbs import flushed_db

from . import explorer_stack as es

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LIFELINE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
MISSING = f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (.ci/run does)"


@pytest.fixture(scope="module")
async def stack(browser: Browser, module_database: str, redis_server: RunningServer,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[es.ExplorerStack]:
    """One stack for the module's tests (starting five services is the costly part);
    after the browser, so a missing Chromium fails before any service starts."""
    redis_url = await flushed_db(redis_server.url)
    running = es.start(module_database, redis_url, tmp_path_factory.mktemp("explorer"))
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, once per module (launching it costs seconds on a busy machine)."""
    assert CHROMIUM.is_file(), MISSING  # noqa: ASYNC240 (one stat, before the browser starts)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser, stack: es.ExplorerStack) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh tab (its own sessionStorage); the list collects console errors, except the
    unreachable snapshot service's, which the test provokes on purpose."""
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        where = (msg.location or {}).get("url", "")
        if msg.type == "error" and not where.startswith(stack.snapshot_url):
            errors.append(f"{msg.text} ({where})")

    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = await context.new_page()
        tab.on("console", on_console)
        tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        tab.set_default_timeout(15_000)
        yield tab, errors
    finally:
        await context.close()


async def shot(page: Page, name: str) -> None:
    folder = ARTIFACTS / "explorer"
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def find_session(page: Page, session: str) -> None:
    await page.select_option("#find-kind", "session")
    await page.fill("#find-value", session)
    await page.click("#find-form button[type=submit]")


async def use_key(page: Page, key: str) -> None:
    await page.fill("#api-key", key)
    await page.click("#key-form button[type=submit]")


async def append_turn(stack: es.ExplorerStack, turn_id: int, text: str) -> None:
    async with httpx.AsyncClient(headers=auth(), timeout=10) as c:
        r = await c.post(f"{stack.url('ingest')}/v1/sessions/{es.SESSION}/events",
                         json={"events": [{"event_type": "turn.recorded", "turn_id": turn_id,
                                           "person_id": es.PERSON,
                                           "payload": {"role": "user", "text": text}}]})
    assert r.status_code == 200, r.text


def status_of(page: Page, panel: str) -> Any:
    return page.locator(f"#{panel} > .panel-status")


async def test_explorer_shows_a_session_its_state_replay_memory_and_models(
        stack: es.ExplorerStack, page: tuple[Page, list[str]]) -> None:
    """A user finds a session, scrubs it, replays it at 10×, opens evidence and sees a promotion."""
    tab, console_errors = page
    last = es.seed(stack)
    await tab.goto(stack.explorer)
    await use_key(tab, TEST_API_KEY)
    assert await tab.evaluate("sessionStorage.getItem('lifeline.apiKey')") == TEST_API_KEY
    assert TEST_API_KEY not in tab.url

    await find_session(tab, es.SESSION)
    rows = tab.locator("#timeline .row")
    await expect(rows).to_have_count(last)
    await expect(rows.nth(1).locator(".chip")).to_have_text(["set_stage:discovery", "confirm_fact:service"])
    markers = tab.locator("#timeline-markers")  # snapshot is down: said so, the rest works
    await expect(markers).to_contain_text("snapshot: unreachable")
    await shot(tab, "1-timeline")

    await tab.select_option("#type-filter", ["turn.evaluated", "session.finished"])
    async with tab.expect_request(lambda r: "/replay/session/" in r.url) as listing:
        await tab.click("#type-filter-form button[type=submit]")
    assert parse_qs(urlsplit((await listing.value).url).query)["event_type"] == [
        "session.finished", "turn.evaluated"]  # trace-store's filter, repeated per type
    await expect(rows.locator(".type")).to_have_text(["turn.evaluated", "turn.evaluated", "session.finished"])
    await expect(status_of(tab, "timeline-panel")).to_contain_text(f"3 of {last} events")
    await shot(tab, "1b-filtered")
    await tab.click("#type-filter-clear")
    await expect(rows).to_have_count(last)

    await tab.click("#timeline .row[data-seq='7']")
    await expect(tab.locator("#state-seq")).to_have_text("7")
    diff = tab.locator("#state-diff table.diff")
    await expect(diff.locator("tr.change-changed", has_text="stage")).to_contain_text("proposal")
    await expect(diff.locator("tr.change-retracted")).to_contain_text("budget")
    await expect(diff.locator("tr", has_text="pins")).to_contain_text("options")
    await tab.focus("#timeline")
    await tab.keyboard.press("ArrowDown")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#state-seq")).to_have_text("8")
    await expect(tab.locator("#links a", has_text="Jaeger")).to_have_attribute(
        "href", f"http://127.0.0.1:16686/trace/{es.TRACE_ID}")
    await tab.click("#context-form button[type=submit]")
    await expect(tab.locator("#context-json")).to_contain_text("messages")
    await shot(tab, "2-state")

    await tab.fill("#play-speed", "10")
    await tab.click("#play-start")
    await expect(status_of(tab, "play-panel")).to_contain_text("played", timeout=30_000)
    seqs = await tab.locator("#played li").evaluate_all("items => items.map(i => Number(i.dataset.seq))")
    # every logged event, in seq order (lifecycle announcements about the session ride along)
    assert seqs == sorted(seqs) and set(seqs) == set(range(1, last + 1)), seqs
    await shot(tab, "3-replay")

    await tab.click("#profile .evidence-open[data-code='price_objection_missed']")
    evidence = tab.locator("#evidence .evidence-item")
    await expect(evidence.first).to_be_visible()
    seq = await evidence.first.get_attribute("data-seq")
    await evidence.first.click()
    await expect(tab.locator("#state-seq")).to_have_text(str(seq))
    await expect(tab.locator("#timeline .row[aria-selected='true']")).to_have_attribute("data-seq", str(seq))
    await shot(tab, "4-profile")

    promotion = tab.locator("#models .decision.to-primary", has_text="gpt-b")
    await expect(promotion).to_contain_text("e2e: promote gpt-b")
    await expect(tab.locator("#models")).to_contain_text("routing now: gpt-b")
    answered_off_primary = tab.locator("#models .not-primary")
    await expect(answered_off_primary).to_have_text(["#9 gpt-b — not PRIMARY then (gpt-a was)"])
    await shot(tab, "5-models")

    await tab.select_option("#find-kind", "otel")
    await tab.fill("#find-value", es.TRACE_ID)
    await tab.click("#find-form button[type=submit]")
    await expect(tab.locator("#find-results button")).to_have_text([f"{es.SESSION} at seq 1"])
    await expect(tab.locator("#state-seq")).to_have_text("1")
    await tab.select_option("#find-kind", "person")
    await tab.fill("#find-value", es.PERSON)
    await tab.click("#find-form button[type=submit]")
    await expect(tab.locator("#find-results button")).to_have_text([es.SESSION])
    await expect(rows).to_have_count(last)

    await tab.click("#live-toggle")
    await expect(status_of(tab, "play-panel")).to_contain_text("in sync")
    await append_turn(stack, 99, "one more thing")
    await expect(tab.locator(f"#timeline .row[data-seq='{last + 1}']")).to_contain_text("one more thing")

    results = await Axe().run(tab)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()
    assert not console_errors, console_errors

    # replay goes away mid-session: the live view reconnects after the last seq it saw
    stack.procs["replay"].kill()
    await expect(status_of(tab, "play-panel")).to_contain_text("reconnecting after seq")
    await append_turn(stack, 100, "said while replay was down")
    await asyncio.to_thread(stack.procs["replay"].start, timeout=60)
    await expect(tab.locator(f"#timeline .row[data-seq='{last + 2}']")).to_contain_text(
        "said while replay was down", timeout=30_000)
    await expect(rows).to_have_count(last + 2)  # no gap, no duplicate
    await tab.click("#live-toggle")


async def test_explorer_says_which_panel_failed_and_keeps_working(
        stack: es.ExplorerStack, page: tuple[Page, list[str]]) -> None:
    """An unknown session and a key without `read` are named in the panel; nothing else breaks."""
    tab, _ = page
    await tab.goto(stack.explorer)
    await use_key(tab, TEST_API_KEY)
    await find_session(tab, "s-nope")
    await expect(status_of(tab, "timeline-panel")).to_contain_text("ingest:")
    await expect(status_of(tab, "timeline-panel")).to_contain_text("s-nope")

    await use_key(tab, es.INGEST_ONLY_KEY)
    await find_session(tab, "s-nope")
    await expect(status_of(tab, "timeline-panel")).to_contain_text("lacks the 'read' scope")
    await shot(tab, "6-errors")
    await use_key(tab, TEST_API_KEY)
    await find_session(tab, "s-nope")  # the page still works after the refusals
    await expect(status_of(tab, "timeline-panel")).to_contain_text("s-nope")


# Measured inside the page: from the Find form's submit to the first row in the DOM.
PAINT_PROBE = """() => {
  const form = document.querySelector('#find-form');
  form.addEventListener('submit', () => { window.submitted = performance.now(); }, { capture: true });
  new MutationObserver((_, observer) => {
    if (!document.querySelector('#timeline .row')) return;
    window.painted = performance.now();
    observer.disconnect();
  }).observe(document.querySelector('#timeline'), { childList: true });
}"""


def _big_page(after: int, total: int, size: int = 1000) -> bytes:
    events = [{"event_id": f"00000000-0000-7000-8000-{seq:012d}", "event_type": "turn.recorded",
               "seq": seq, "session_id": "s-big", "person_id": "p-big", "turn_id": seq,
               "recorded_at": "2026-11-30T10:00:00+00:00", "occurred_at": "2026-11-30T10:00:00+00:00",
               "payload": {"role": "user" if seq % 2 else "assistant", "text": f"turn number {seq}",
                           "acts": [{"op": "flag", "name": "f"}] if seq % 7 == 0 else []}}
              for seq in range(after + 1, min(after + size, total) + 1)]
    last = events[-1]["seq"] if events else after
    return json.dumps({"session_id": "s-big", "last_seq": total, "next_after_seq": last,
                       "events": events}).encode()


async def test_a_100000_event_timeline_is_virtualised_and_scrolls_to_its_end(
        stack: es.ExplorerStack, page: tuple[Page, list[str]]) -> None:
    """A 100,000-event timeline keeps under 100 rows in the DOM and reaches seq 100,000 by key.

    ingest's answers are served by the browser's router (same bytes as ingest's page shape),
    so this exercises the page, not a 100,000-event seed on a shared machine. The time to
    first paint is printed, not asserted: tests do not
    time things on a shared machine."""
    tab, _ = page
    total = 100_000

    async def fulfil(route: Route) -> None:
        after = int(parse_qs(urlsplit(route.request.url).query).get("after_seq", ["0"])[0])
        await route.fulfill(status=200, body=_big_page(after, total), content_type="application/json",
                            headers={"access-control-allow-origin": "*"})

    await tab.route(f"{stack.url('ingest')}/v1/sessions/s-big/events*", fulfil)
    await tab.goto(stack.explorer)
    await use_key(tab, TEST_API_KEY)
    await tab.evaluate(PAINT_PROBE)
    await find_session(tab, "s-big")
    await expect(tab.locator("#timeline .row[data-seq='1']")).to_be_visible()
    painted_ms = await tab.evaluate("window.painted - window.submitted")
    assert painted_ms > 0, "the paint probe saw no paint after the search was submitted"
    print(f"explorer: first rows of a {total}-event timeline after {painted_ms:.0f} ms")
    await expect(status_of(tab, "timeline-panel")).to_contain_text(f"{total} of {total} events",
                                                                   timeout=60_000)
    assert await tab.locator("#timeline .row").count() < 100  # only the rows in view exist
    await tab.focus("#timeline")
    await tab.keyboard.press("End")
    await expect(tab.locator(f"#timeline .row[data-seq='{total}']")).to_be_visible()
    await shot(tab, "7-big-timeline")
