"""axe-core (vendored: tests/e2e/console/vendor) on the console's main views in Chromium: no
serious or critical violation. The axe script is injected by the test, so this context alone
bypasses the page's CSP; the console itself runs under it everywhere else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import JFK
from tests.e2e.conftest import Cluster
from tests.e2e.console.conftest import sign_in

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS = {"serious", "critical"}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def test_the_main_views_have_no_serious_accessibility_violation(
    cluster: Cluster, page: Page
) -> None:
    job_id = cluster.submit(JFK)["id"]
    cluster.wait(job_id)
    page.goto(cluster.url + "/")
    expect(page.get_by_role("heading", name="API key")).to_be_visible()
    found = {"key prompt": serious_violations(page)}

    sign_in(page, cluster.url)
    expect(page.locator(f"tr[data-id='{job_id}']")).to_be_visible()
    page.get_by_text("Options").click()
    found["jobs"] = serious_violations(page)

    page.goto(f"{cluster.url}/#/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("completed")
    expect(page.locator("ol.transcript > li").first).to_be_visible()
    found["job"] = serious_violations(page)

    page.goto(f"{cluster.url}/#/service")
    expect(page.get_by_role("img", name="Jobs by status")).to_be_visible()
    found["service"] = serious_violations(page)
    assert found == {"key prompt": [], "jobs": [], "job": [], "service": []}


def test_the_check_finds_a_violation_when_there_is_one(cluster: Cluster, page: Page) -> None:
    page.goto(cluster.url + "/")
    expect(page.get_by_role("heading", name="API key")).to_be_visible()
    page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert any(v.startswith("image-alt (critical)") for v in serious_violations(page))
