"""``knowrec report`` (issue 12) in headless Chromium: three runs and a tune on one self-contained page, every
section there, every plot drawn, no console errors; a screenshot is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from conftest import CHROMIUM_FLAGS, artifacts_dir, chromium_path, make_tiny
from knowrec.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("report")
    make_tiny().save(root / "tiny")
    data = str(root / "tiny")
    fast = ["--set", "batch_size=64", "--quiet"]
    invoke("train", "--dataset", data, "--model", "bpr", "--out", str(root / "bpr"), "--set", "epochs=8", *fast)
    invoke("train", "--dataset", data, "--model", "hybrid", "--out", str(root / "hybrid"), "--set", "epochs=5", *fast)
    invoke("train", "--dataset", data, "--model", "hybrid", "--out", str(root / "hybrid-id"), "--set", "epochs=5",
           "--set", "sources=id", *fast)
    invoke("train", "--dataset", data, "--model", "hybrid", "--split", "cold-item", "--out", str(root / "cold"),
           "--set", "epochs=3", *fast)
    invoke("tune", "--dataset", data, "--model", "bpr", "--trials", "5", "--out", str(root / "tune"),
           "--set", "epochs=6", *fast)
    return [root / n for n in ("bpr", "hybrid", "hybrid-id", "cold", "tune")]


def test_the_report_opens_offline_with_every_section_drawn(folders: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    invoke("report", *map(str, folders), "--out", str(out), "--title", "tiny report")
    fetched: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        def offline(route: object) -> None:  # plotly.js is inlined: the page must need nothing from the network
            url = route.request.url
            if url.startswith("file:"):
                route.continue_()
            else:
                fetched.append(url)
                route.abort()

        page.route("**/*", offline)
        page.goto(out.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        ids = page.eval_on_selector_all("section", "s => s.map(e => e.id)")
        assert ids == ["metrics", "curves", "significance", "beyond", "hybrid", "cold", "tune-tune"]
        for section in ids[1:]:
            plots = page.locator(f"#{section} .js-plotly-plot")
            assert plots.count() >= 1, section
            drawn = page.eval_on_selector_all(  # non-blank: each plot drew marks (bars, lines, heatmap cells)
                f"#{section} .js-plotly-plot",
                "ps => ps.map(p => p.querySelectorAll('path.point, path.js-line, g.hm image, .heatmaplayer image,"
                " path.bar, g.trace path').length)")
            assert all(n > 0 for n in drawn), (section, drawn)
        assert page.locator("#metrics table tbody tr").count() == 4
        assert page.locator("#tune-tune table tbody tr").count() >= 1
        page.screenshot(path=str(artifacts_dir() / "report.png"), full_page=True)
        browser.close()
    assert errors == [] and fetched == []
