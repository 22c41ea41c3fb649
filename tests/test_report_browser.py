"""The report in a real browser: headless Chromium, driven by selenium, opens the page from a
file:// URL with no network, and every section is displayed, every chart has a size and its
lines, markers or bars, the console is free of errors, and a script planted in a target name did
not run. The same for the page that compares frameworks: three check documents (torch, jax and a
user's target, with pass, variant, fail and unsupported cells) and bench documents from two
machines, whose failure links lead to their failures on the page.

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
    SECOND_MACHINE,
    XSS,
    bench_document,
    check_document,
    framework_documents,
    micro_document,
    with_roofs,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TITLE = "nnconform report: browser test"
MATRIX_TITLE = "nnconform report: frameworks compared"


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
    # the bench as the interleaved bench writes it (roofs, ratios with intervals): every section
    bench = with_roofs(bench_document())
    page = build_report(check=check_document(), bench=[bench, micro_document()], title=TITLE)
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
def matrix_report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("matrix") / "matrix.html"
    checks, bench = framework_documents()
    path.write_text(build_report(checks=checks, bench=bench, title=MATRIX_TITLE), encoding="utf-8")
    return path


def _open(driver, path: Path):
    """The page at ``path``, loaded afresh when another page is showing; the console's
    entries of earlier pages are read and dropped first."""
    if driver.current_url != path.as_uri():
        driver.get_log("browser")
        driver.get(path.as_uri())
    return driver


@pytest.fixture
def page(driver, report):
    return _open(driver, report)


@pytest.fixture
def matrix(driver, matrix_report):
    return _open(driver, matrix_report)


def test_the_page_has_its_title(page):
    assert page.title == TITLE


def test_every_section_is_displayed(page):
    from selenium.webdriver.common.by import By

    for key in SECTIONS:
        element = page.find_element(By.ID, key)
        assert element.is_displayed(), key
        assert element.size["height"] > 50, key


def _every_plot_is_drawn(page, count: int) -> None:
    """Each chart is displayed with a size, and its lines, markers or bars are drawn."""
    from selenium.webdriver.common.by import By

    plots = page.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(plots) == count
    for plot in plots:
        assert plot.is_displayed()
        assert plot.size["width"] > 300 and plot.size["height"] > 100, plot.size
        shapes = plot.find_elements(By.CSS_SELECTOR, "polyline.line, .marker, rect.bar")
        assert shapes, plot.get_attribute("aria-label")
        for shape in shapes:  # drawn, not collapsed to nothing
            box = page.execute_script(
                "const b = arguments[0].getBBox(); return [b.width, b.height];", shape
            )
            assert max(box) > 0, plot.get_attribute("aria-label")


def test_every_plot_has_a_size_and_its_lines_or_bars(page):
    from selenium.webdriver.common.by import By

    # 5 throughput, 3 bandwidth, 2 batch size, 1 micro, and 4 ratio charts (kernel, device)
    _every_plot_is_drawn(page, 15)
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


# ---------------------------------------------------------------------------------------------
# The page that compares frameworks


def test_the_matrix_page_has_its_title_and_every_section(matrix):
    from selenium.webdriver.common.by import By

    assert matrix.title == MATRIX_TITLE
    for key in SECTIONS:
        element = matrix.find_element(By.ID, key)
        assert element.is_displayed() and element.size["height"] > 50, key


def test_every_plot_of_the_matrix_page_is_drawn(matrix):
    # 2 × 5 throughput, 2 × 3 bandwidth, 2 × 2 batch size, 1 coverage, 1 micro, and the second
    # bench's ratios to its baseline: one chart per (kernel, device) with intervals, 4
    _every_plot_is_drawn(matrix, 26)


def test_the_matrix_has_a_column_per_document_and_a_machine_table_per_machine(matrix):
    from selenium.webdriver.common.by import By

    heads = matrix.find_elements(By.CSS_SELECTOR, "#conformance table.matrix th.target")
    assert [h.text.splitlines()[0] for h in heads] == [
        "torch 2.13.0+cpu",
        "jax 0.4.38",
        "my_kernels version unknown",
    ]
    tables = matrix.find_elements(By.CSS_SELECTOR, "#machine table.machine")
    assert len(tables) == 2 and all(t.is_displayed() for t in tables)
    for link in matrix.find_elements(By.CSS_SELECTOR, "#conformance th.target a"):
        anchor = link.get_attribute("href").rsplit("#", 1)[1]
        heading = matrix.find_element(By.ID, anchor)
        assert heading.tag_name == "h3" and heading.is_displayed()
    assert SECOND_MACHINE in heads[1].text
    cells = [td.text for td in matrix.find_elements(By.CSS_SELECTOR, "#conformance td.verdict")]
    for verdict in ("pass", "erf", "fail", "unsupported", "not checked"):
        assert verdict in cells, verdict


def test_every_failure_link_leads_to_its_failure_on_the_page(matrix):
    from selenium.webdriver.common.by import By

    links = matrix.find_elements(By.CSS_SELECTOR, "#conformance td.verdict a")
    assert len(links) == 4
    for link in links:
        anchor = link.get_attribute("href").rsplit("#", 1)[1]
        found = matrix.execute_script(
            "const e = document.getElementById(arguments[0]);"
            "return e && [e.tagName, e.className, e.querySelector('summary').textContent];",
            anchor,
        )
        assert found is not None, anchor
        tag, css, summary = found
        assert tag == "DETAILS" and "failure" in css
        row = link.find_element(By.XPATH, "./ancestor::tr/th").text
        assert summary.startswith(f"{row} :: "), (row, summary)
    links[0].click()  # the browser follows it to the failure, within the window
    anchor = links[0].get_attribute("href").rsplit("#", 1)[1]
    assert matrix.execute_script("return location.hash") == f"#{anchor}"
    top = matrix.execute_script(
        "return document.getElementById(arguments[0]).getBoundingClientRect().top", anchor
    )
    assert 0 <= top < matrix.execute_script("return window.innerHeight")


def test_the_matrix_page_console_has_no_errors(driver, matrix_report):
    driver.get_log("browser")
    driver.get(matrix_report.as_uri())
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_a_screenshot_of_the_matrix_page(matrix, tmp_path):
    """Kept for a person to look at (NNCONFORM_SCREENSHOT=path copies it beside that path,
    with -matrix added to its name)."""
    height = matrix.execute_script("return document.body.scrollHeight")
    matrix.set_window_size(1280, min(height + 100, 16000))
    path = tmp_path / "matrix.png"
    assert matrix.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("NNCONFORM_SCREENSHOT"):
        target = Path(os.environ["NNCONFORM_SCREENSHOT"])
        shutil.copy(path, target.with_name(f"{target.stem}-matrix{target.suffix}"))
    matrix.set_window_size(1280, 1000)
