"""The report in a real browser: headless Chromium, driven by selenium, opens the page from a
file:// URL with no network, and every section is displayed, every chart has a size and its
lines or bars, the console is free of errors, and a script planted in a target name did not run.

Needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`); the
test skips without them, unless NNCONFORM_REQUIRE_BROWSER=1 (set in CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nnconform.reports.html import SECTIONS, build_report
from tests.test_report import (
    ADAM_CPU,
    XSS,
    bench_document,
    check_document,
    micro_document,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TITLE = "nnconform report: browser test"


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.access(p, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if not missing:
        return
    message = (
        f"the browser test needs {', '.join(missing)}: install them with "
        "`apt-get install chromium chromium-driver` and `pip install selenium`"
    )
    if os.environ.get("NNCONFORM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NNCONFORM_REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    page = build_report(
        check=check_document(), bench=[bench_document(), micro_document()], title=TITLE
    )
    path.write_text(page, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def page(driver, report):
    driver.get(report.as_uri())
    return driver


def test_the_page_has_its_title(page):
    assert page.title == TITLE


def test_every_section_is_displayed(page):
    from selenium.webdriver.common.by import By

    for key in SECTIONS:
        element = page.find_element(By.ID, key)
        assert element.is_displayed(), key
        assert element.size["height"] > 50, key


def test_every_plot_has_a_size_and_its_lines_or_bars(page):
    from selenium.webdriver.common.by import By

    plots = page.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(plots) == 11
    for plot in plots:
        assert plot.is_displayed()
        assert plot.size["width"] > 300 and plot.size["height"] > 100, plot.size
        lines = plot.find_elements(By.CSS_SELECTOR, "polyline.line")
        bars = plot.find_elements(By.CSS_SELECTOR, "rect.bar")
        assert lines or bars, plot.get_attribute("aria-label")
        for shape in lines + bars:  # drawn, not collapsed to nothing
            box = page.execute_script(
                "const b = arguments[0].getBBox(); return [b.width, b.height];", shape
            )
            assert max(box) > 0, plot.get_attribute("aria-label")
    adam = page.find_element(By.CSS_SELECTOR, "#throughput svg.plot")
    assert len(adam.find_elements(By.CSS_SELECTOR, "polyline.line")) == len(ADAM_CPU)


def test_the_conformance_table_has_its_rows(page):
    from selenium.webdriver.common.by import By

    rows = page.find_elements(By.CSS_SELECTOR, "#conformance table.matrix tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == [
        "relu",
        "gelu",
        "softmax",
        "spectral_norm",
    ]
    fail = rows[2].find_element(By.CSS_SELECTOR, "td.verdict")
    assert fail.value_of_css_property("background-color") != rows[0].find_element(
        By.CSS_SELECTOR, "td.verdict"
    ).value_of_css_property("background-color")


def test_the_console_has_no_errors(page):
    severe = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_a_script_in_a_target_name_did_not_run_and_shows_as_text(page):
    from selenium.webdriver.common.by import By

    assert page.execute_script("return typeof window.__xss") == "undefined"
    names = [td.text for td in page.find_elements(By.CSS_SELECTOR, "#results td")]
    assert any(XSS in name for name in names)


def test_a_screenshot_of_the_page(page, tmp_path):
    """Kept for a person to look at (NNCONFORM_SCREENSHOT=path copies it there)."""
    height = page.execute_script("return document.body.scrollHeight")
    page.set_window_size(1280, min(height + 100, 16000))
    path = tmp_path / "report.png"
    assert page.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("NNCONFORM_SCREENSHOT"):
        shutil.copy(path, os.environ["NNCONFORM_SCREENSHOT"])
    page.set_window_size(1280, 1000)
