"""The report, as the team reads it the morning after: two real drill runs, `kubedrill report`, and the
generated HTML opened in Debian's headless Chromium (driven by chromedriver through Selenium).

Checked in the browser: the first page is the run summary (the drill, its figures, its verdict, links on),
the interactive report shows the drill's runbook steps and renders its plots as images, the single-file
report opens from file:// with no server, and after the second run the trends exist (kubedrill's trend
plot on the first page, Allure's history and metrics). Screenshots are kept under reports/screenshots/.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from kubedrill.backends.embedded import Layout
from tests.integration.conftest import kubedrill
from tests.integration.test_tracer_drill import ROOT, TRACER, allure_results, run_drills

pytestmark = pytest.mark.integration
SCREENSHOTS = ROOT / "reports" / "screenshots"
STEPS = [
    "pre-flight: no pending fault, nodes Ready, etcd members healthy with one leader",
    "steady state: namespace, API prober, baseline",
    "inject: etcdctl move-leader",
    "fault took effect: a new leader is elected",
    "SLO verdict",
    "rollback: revert faults, delete the drill namespace",
]
PLOTS = ["availability and latency.png", "etcd leader and Lease holders.png"]


def wait_for_text(driver: WebDriver, text: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    body = ""
    while time.monotonic() < deadline:
        body = driver.find_element(By.TAG_NAME, "body").text
        if text in body:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in the page; it shows:\n{body[:3000]}")


def open_attachment(driver: WebDriver, name: str) -> WebElement:
    """Expand an attachment row by its name and return the image it renders."""
    row = driver.find_element(By.XPATH, f"//*[normalize-space(text())={json.dumps(name)}]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    before = len(driver.find_elements(By.TAG_NAME, "img"))
    row.click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        imgs = driver.find_elements(By.TAG_NAME, "img")
        if len(imgs) > before:
            return imgs[-1]
        time.sleep(0.2)
    raise AssertionError(f"expanding {name!r} rendered no image")


def rendered_size(driver: WebDriver, img: WebElement) -> tuple[int, int, float]:
    """(natural width, natural height, width on screen): a broken image has no natural size."""
    deadline = time.monotonic() + 15
    size: list[float] = [0, 0, 0]
    while time.monotonic() < deadline:
        size = driver.execute_script(
            "const i = arguments[0]; return [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width]", img
        )
        if size[0]:
            break
        time.sleep(0.2)
    return int(size[0]), int(size[1]), float(size[2])


def test_the_report_shows_the_drill_its_steps_its_plots_and_trends_across_two_runs_in_a_real_browser(
    embedded: Layout, tmp_path: Path, browser: WebDriver, serve: functools.partial[str]
) -> None:
    reports = tmp_path / "reports"
    results, report = reports / "allure-results", reports / "allure-report"
    for _run in (1, 2):  # two consecutive nightly runs
        proc = run_drills(tmp_path, "--alluredir", str(results), "--clean-alluredir")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "kubedrill run summary" in proc.stdout
        assert "etcd-leader-move" in proc.stdout
        out = kubedrill("report", "--results", str(results), "--output", str(report), check=True).stdout
        assert f"report: {report / 'index.html'}" in out, out
    # JUnit XML next to the Allure results, without being asked for.
    assert (reports / "junit.xml").is_file()
    assert TRACER in (reports / "junit.xml").read_text()
    # History for trends: two runs in kubedrill's and Allure's history files.
    assert (
        len({json.loads(line)["run"] for line in (reports / "history" / "drills.jsonl").read_text().splitlines()}) == 2
    )
    assert len((reports / "history" / "allure.jsonl").read_text().splitlines()) == 2
    (result,) = allure_results(results)
    assert result["status"] == "passed"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # 1. The first page: the run summary, with the trend plot once two runs exist, and links on.
    browser.get(serve(report, "index.html"))
    body = wait_for_text(browser, "etcd-leader-move")
    assert "kubedrill run summary" in body
    row = browser.find_element(By.XPATH, "//table[@id='drills']//tr[td[1][normalize-space()='etcd-leader-move']]")
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1].startswith("move etcd leadership"), cells
    assert "new etcd leader" in cells[2], cells
    assert cells[-1] == "passed", cells
    # The run's resilience score (every check of the drill passed) and the trend of it across the two runs.
    headline = browser.find_element(By.ID, "score").text
    assert headline.startswith("resilience score: 100.0 / 100 ("), headline
    assert browser.find_elements(By.ID, "findings") == []  # nothing failed, nothing to look at
    trend = browser.find_element(By.XPATH, "//img[@alt='trends']")
    assert rendered_size(browser, trend)[0] > 500
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#links a")}
    assert set(links) == {
        "interactive report (steps, plots, attachments)",
        "single-file report (opens offline)",
        "trends dashboard",
    }
    browser.save_screenshot(str(SCREENSHOTS / "1-run-summary.png"))

    # 2. The interactive report, at the drill: its runbook steps, and its plots drawn as images.
    browser.get(links["interactive report (steps, plots, attachments)"])
    ids = json.loads((report / "test-results.json").read_text())["byId"]
    (test_id,) = [k for k, v in ids.items() if v["name"] == TRACER]
    browser.get(f"{links['interactive report (steps, plots, attachments)']}#/{test_id}")
    body = wait_for_text(browser, "SLO verdict")
    missing = [s for s in STEPS if s not in body]
    assert not missing, f"steps not shown: {missing}"
    for name in PLOTS:
        img = open_attachment(browser, name)
        natural_w, natural_h, shown_w = rendered_size(browser, img)
        assert natural_w >= 900, (name, natural_w, natural_h)
        assert natural_h >= 250, (name, natural_w, natural_h)
        assert shown_w > 400, f"{name} is not shown at a readable size ({shown_w} px)"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    shot = SCREENSHOTS / "2-drill-with-plots.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 50_000  # a page with two plots on it, not a blank one

    # 3. The single-file report opens from disk, with no server: the drill and its steps are in it.
    browser.get((report / "awesomeSingle" / "index.html").as_uri() + f"#/{test_id}")
    body = wait_for_text(browser, "SLO verdict")
    assert TRACER in body
    browser.save_screenshot(str(SCREENSHOTS / "3-single-file.png"))

    # 4. Allure's own trends: the drill's figures as metrics with two runs of history.
    metrics = json.loads((report / "awesome" / "widgets" / "metrics.json").read_text())
    keys = {m["key"] for m in metrics["current"]}
    assert {
        "election.etcd-leader-move",
        "recovery.etcd-leader-move",
        "availability.etcd-leader-move",
        "resilience.run",
    } <= keys
    assert len(metrics["history"]) >= 1  # the previous run, next to the current one

    # 5. Nothing in the report calls out: Allure's analytics tags are stripped.
    for page in report.rglob("*.html"):
        assert "googletagmanager" not in page.read_text(errors="ignore"), page


def test_report_refuses_results_that_are_not_there(tmp_path: Path) -> None:
    proc = kubedrill("report", "--results", str(tmp_path / "none"), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "expected Allure results (run pytest with --alluredir)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_report_of_a_plain_allure_run_keeps_allures_own_first_page(tmp_path: Path) -> None:
    """Results without a kubedrill summary (any pytest run with --alluredir) still render, as Allure made them."""
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_plain.py", "-p", "no:cacheprovider", "--alluredir", str(results)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout
    out = kubedrill("report", "--results", str(results), "--output", str(tmp_path / "out"), check=True).stdout
    assert (tmp_path / "out" / "awesome" / "index.html").exists(), out
    assert "kubedrill run summary" not in (tmp_path / "out" / "index.html").read_text()
