"""The web page in a real headless Chromium (Debian's, driven by selenium through the system
chromedriver): load, generate two coupled chains, click a character, see the per-stage bars."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from textgen.corpus.vocab import CharVocab

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOT = os.environ.get("TEXTGEN_SCREENSHOT")  # set to also save the docs' screenshot

if not (CHROMIUM and DRIVER):
    if shutil.which("apt-get") is None:
        pytest.skip("no chromium/chromedriver and no apt-get to install them "
                    "(apt-get install chromium chromium-driver)", allow_module_level=True)
    pytest.fail("chromium and chromium-driver are not installed: `.ci/run` installs them "
                "(apt-get install -y chromium chromium-driver)", pytrace=False)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1300,1400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_generate_click_and_see_each_stage(tiny_run, tiny_server, browser, tmp_path):
    server = tiny_server
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, 240)
    wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready.")
    assert browser.find_element(By.ID, "model-id").text == "run"
    offered = [o.get_attribute("value") for o in
               browser.find_elements(By.CSS_SELECTOR, "#panel-a .add-stage option")]
    assert {"greedy", "temperature", "top_k", "top_p"} <= set(offered)  # plugins offered
    length = browser.find_element(By.ID, "length")
    length.clear()
    length.send_keys("120")
    browser.find_element(By.ID, "generate").click()
    for panel in ("a", "b"):
        wait.until(lambda d, p=panel: len(d.find_elements(
            By.CSS_SELECTOR, f"#panel-{p} .ch")) == 120)
    wait.until(lambda d: "part" in d.find_element(By.ID, "status").text
               or "same text" in d.find_element(By.ID, "status").text)
    chars = browser.find_elements(By.CSS_SELECTOR, "#panel-b .ch")
    assert all(c.get_attribute("style").startswith("background") for c in chars[:5])
    chars[7].click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#bars .stage-bars")) == 3)
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#bars h3")]
    assert titles == ["model (temperature 1)", "top_k(3)", "temperature(0.8)"]
    vocab = len(browser.find_elements(By.CSS_SELECTOR, "#bars .stage-bars:first-child .bar"))
    assert vocab == len(CharVocab.load(tiny_run / "vocab.json"))  # the whole vocabulary
    drawn = browser.find_elements(By.CSS_SELECTOR, "#bars .bar.drawn")
    assert len(drawn) == 3  # the drawn character marked on every row
    stats = browser.find_element(By.ID, "detail-stats").text
    assert "model entropy" in stats and "sampling entropy" in stats
    browser.find_element(By.CSS_SELECTOR, "#panel-b .yaml").click()
    yaml = browser.find_element(By.CSS_SELECTOR, "#panel-b .yaml-out").text
    assert yaml == "samplers:\n  - top_k: 3\n  - temperature: 0.8"
    edit_chain_a(browser)
    browser.save_screenshot(str(tmp_path / "serve.png"))
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(SCREENSHOT)
    assert (tmp_path / "serve.png").stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def edit_chain_a(browser) -> None:
    """Add a plugin stage, move it first, remove the other: the YAML follows each edit."""
    from selenium.webdriver.support.ui import Select

    def yaml() -> str:
        browser.find_element(By.CSS_SELECTOR, "#panel-a .yaml").click()
        return browser.find_element(By.CSS_SELECTOR, "#panel-a .yaml-out").text

    Select(browser.find_element(By.CSS_SELECTOR, "#panel-a .add-stage")).select_by_value("top_p")
    browser.find_element(By.CSS_SELECTOR, "#panel-a .add").click()
    assert yaml() == "samplers:\n  - temperature: 0.8\n  - top_p: 0.5"
    rows = browser.find_elements(By.CSS_SELECTOR, "#panel-a .stage")
    rows[1].find_element(By.CSS_SELECTOR, "button[title='move up']").click()
    assert yaml() == "samplers:\n  - top_p: 0.5\n  - temperature: 0.8"
    value = browser.find_elements(By.CSS_SELECTOR, "#panel-a .stage")[1].find_element(
        By.CSS_SELECTOR, "input[data-param='temperature']")
    value.clear()
    value.send_keys("1.3")
    assert yaml() == "samplers:\n  - top_p: 0.5\n  - temperature: 1.3"
    browser.find_elements(By.CSS_SELECTOR, "#panel-a .stage")[1].find_element(
        By.CSS_SELECTOR, "button[title='remove']").click()
    assert yaml() == "samplers:\n  - top_p: 0.5"
