"""The run report, opened in a real headless Chromium: renders, no errors, no outside requests."""

import shutil

import pytest
from playwright.sync_api import sync_playwright

from common.layout import WorkLayout
from report.report import report_dir

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(first_run, work):
    return report_dir(WorkLayout.at(work).reports, first_run.run_id) / "report.html"


def test_report_renders_offline_in_chromium(report):
    chromium = shutil.which("chromium")
    assert chromium, "make test installs Debian's chromium (scripts/install_chromium.sh)"
    console, requests, failed = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        headings = page.locator("h2").all_inner_texts()
        verdict = page.locator(".verdict").inner_text()
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")
        thresholds = page.locator("h3:has-text('Blessing decision') + table tr").count()
        page.screenshot(path=str(report.with_name("screenshot.png")), full_page=True)
        browser.close()
    assert [c for c in console if not c.startswith(("debug", "verbose"))] == []
    assert [u for u in requests if not u.startswith("file://")] == [] and failed == []
    assert headings == ["Data", "Model", "Pipeline"]
    assert verdict.startswith("Blessed and pushed")
    assert {src for src, _ in images} == {"slice_rmse.png", "predicted_vs_actual.png", "residuals.png",
                                          "training_curves.png"}
    assert all(width > 0 for _, width in images)
    # header + vs the strong baseline + vs the mean + the ranking check + last blessed (not applied)
    assert thresholds == 5
    assert report.with_name("screenshot.png").stat().st_size > 10_000


def test_report_holds_the_numbers_a_reviewer_needs(report, first_run):
    html = report.read_text()
    for text in ("Features per split", "Drift from train", "Anomalies", "example_kind = pair", "example_kind = single",
                 "TFMA metrics on the test split", "Mean predictor", "Trainer", "CsvExampleGen",
                 "Ranking on a sample of the test split", "pair NDCG@10", "single HR@10", "coverage", "popularity",
                 "EASE", "EASE with recency", "sequence model", "pair ranker without the sequence model", "pair ranker - ",
                 "The rating model's deep part", "The sequence model", "eval NDCG@10"):
        assert text in html, text
