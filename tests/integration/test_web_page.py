"""The web page in a real headless Chromium (Debian's, driven by Playwright) against the service on loopback:
pick a user, read recommendations with reasons, add an item and see it appear, record an interaction, befriend
a suggested friend.
A screenshot is kept in ``$KNOWREC_ARTIFACTS`` (default ``test-artifacts/``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from conftest import CHROMIUM_FLAGS, artifacts_dir, chromium_path, make_tiny_social
from knowrec.explain import Explainer
from knowrec.models import Recommender
from knowrec.serve import LiveState, RecommenderService
from knowrec.serve.app import create_app


@pytest.fixture
def server(tiny_hybrid_dir: Path, tmp_path: Path) -> Iterator[str]:
    data = make_tiny_social()
    model = Recommender.load(tiny_hybrid_dir)
    service = RecommenderService(model, data, state=LiveState(tmp_path / "live.sqlite"),
                                 explainer=Explainer(model, data))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(service, token="web"), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the service did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_click_through_the_page(server: str) -> None:
    chromium, artifacts = chromium_path(), artifacts_dir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        expect(page.locator("#status")).to_contain_text("hybrid on tiny · 50 users · 40 items")
        recs = page.locator("#recommendations > li")
        expect(recs).to_have_count(10)
        expect(recs.first.locator(".reason").first).to_contain_text("same genre")
        expect(recs.first.locator(".reason").first).to_contain_text("weight")

        page.fill("#user", "u3")
        page.click("#show")
        expect(page.locator("#rec-for")).to_have_text("for user u3")

        page.fill("#item-id", "web-1")
        page.fill("#item-title", "Item 500")
        page.fill("#item-genres", "drama")
        page.fill("#item-facts", "genres = genres:drama")
        page.click("#add")
        expect(page.locator("#message")).to_contain_text("token")  # no token yet: the 401 is shown
        page.fill("#token", "web")
        page.click("#add")
        expect(page.locator("#message")).to_have_text("added Item 500")
        expect(page.locator("#status")).to_contain_text("41 items · 1 added items")
        new = page.locator("#recommendations li[data-item='web-1']")
        expect(new).to_have_count(1)  # user u3 likes dramas: the new one is in their top 10 at once
        expect(new.locator(".new")).to_have_text("Item 500")

        history = page.locator("#history > li")
        before = history.count()
        new.locator("button").click()
        expect(page.locator("#message")).to_contain_text("interacted with web-1")
        expect(history).to_have_count(before + 1)
        expect(page.locator("#recommendations li[data-item='web-1']")).to_have_count(0)

        friends = page.locator("#friends > li")
        expect(friends).to_have_count(5)
        expect(friends.first.locator(".reason").first).to_contain_text("mutual friends")
        suggested = friends.first.get_attribute("data-user")
        friends.first.locator("button").click()
        expect(page.locator("#message")).to_contain_text(f"befriended {suggested}")
        expect(page.locator(f"#friends li[data-user='{suggested}']")).to_have_count(0)
        expect(page.locator("#status")).to_contain_text("(1 added)")
        page.screenshot(path=str(artifacts / "web-page.png"), full_page=True)
        browser.close()
    assert not errors, errors
