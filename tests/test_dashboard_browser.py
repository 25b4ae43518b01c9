"""End-to-end: the dashboard in headless Debian Chromium driven by Selenium.

Opens the campaign page of a seeded store, checks the counts and a rendered plot, sorts
the top table, opens a structure page and finds the 3D view's canvas and its numbers.
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from mofgen.dashboard.app import create_app
from mofgen.stores.connection import connect
from tests.test_dashboard import seed_store

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--window-size=1400,1800"]


def _browser_or_skip(profile: Path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian chromium + chromium-driver are not installed "
                    "(apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server

    target = str(tmp_path / "store")
    seed_store(target, n=120)
    db = connect(target, create=False)
    httpd = make_server("127.0.0.1", 0, create_app(db), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", db
    httpd.shutdown()
    db.close()


def test_campaign_and_structure_pages_in_chromium(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, db = server
    ARTIFACTS.mkdir(exist_ok=True)
    driver = _browser_or_skip(tmp_path / "profile")
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(base + "/")
        assert driver.find_element(By.LINK_TEXT, "demo")
        driver.find_element(By.LINK_TEXT, "demo").click()

        # counts shown are the database's
        wait.until(ec.presence_of_element_located((By.ID, "state-counts")))
        for state in ("generated", "validated", "adsorbed", "rejected"):
            cell = driver.find_element(By.CSS_SELECTOR, f'td[data-state="{state}"]')
            assert int(cell.text) == db.structures.count_documents(
                {"campaign": "demo", "state": state})
        # plots rendered by plotly.js (served locally)
        wait.until(lambda d: d.find_element(By.ID, "charts").get_attribute("data-rendered"))
        for plot in ("plot-funnel", "plot-uptake", "plot-stable", "plot-strain"):
            assert driver.find_elements(By.CSS_SELECTOR, f"#{plot} svg.main-svg"), plot
        bars = driver.find_elements(By.CSS_SELECTOR, "#plot-uptake g.point")
        assert bars, "uptake histogram has no bars"
        driver.save_screenshot(str(ARTIFACTS / "dashboard_campaign.png"))

        # sort the top table by strain, ascending
        driver.find_element(By.ID, "sort-strain").click()
        wait.until(lambda d: d.find_element(By.ID, "top-table").get_attribute("data-sort")
                   == "strain")
        if driver.find_element(By.ID, "top-table").get_attribute("data-order") != "asc":
            driver.find_element(By.ID, "sort-strain").click()
            wait.until(lambda d: d.find_element(By.ID, "top-table").get_attribute("data-order")
                       == "asc")
        strains = [float(td.text) for td in
                   driver.find_elements(By.CSS_SELECTOR, '#top-table td[data-col="strain"]')]
        assert len(strains) > 5 and strains == sorted(strains)
        smallest = min(d["validate"]["strain"] for d in db.structures.find(
            {"campaign": "demo", "validate.strain": {"$gte": 0}}, {"validate.strain": 1}))
        assert strains[0] == pytest.approx(smallest, rel=1e-3)
        driver.save_screenshot(str(ARTIFACTS / "dashboard_sorted.png"))

        # open the most stable structure: 3D view canvas and its numbers
        link = driver.find_element(By.CSS_SELECTOR, "#top-table a.sid")
        doc_id = link.text
        link.click()
        wait.until(lambda d: d.find_element(By.ID, "viewer").get_attribute("data-rendered"))
        canvas = driver.find_element(By.CSS_SELECTOR, "#viewer canvas")
        assert canvas.size["width"] > 100 and canvas.size["height"] > 100
        shown = driver.find_element(By.CSS_SELECTOR, 'td[data-key="validate.strain"]').text
        doc = db.structures.find_one({"_id": doc_id})
        assert float(shown) == pytest.approx(doc["validate"]["strain"], rel=1e-5)
        assert driver.find_element(By.ID, "state").text == doc["state"]
        assert driver.find_elements(By.CSS_SELECTOR, "figure.linker svg")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#history li")) == len(doc["history"])
        driver.save_screenshot(str(ARTIFACTS / "dashboard_structure.png"))

        driver.get(base + "/structures/no-such-id")
        assert "404" in driver.find_element(By.ID, "error-status").text
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
