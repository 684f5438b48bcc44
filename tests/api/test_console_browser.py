"""The console in a real browser: headless Chromium driven by Selenium.

Signing in through the form, the palette with a connected tile and a
"Disconnected" badge, an action's inputs opened, a step run through the API
shown on the ledger and on its own page — first with the page's JavaScript
turned off (the console must not need it), then measured at 1280x800 and at
a phone's 390x844: the stylesheet applies (the CSP lets it in) and nothing
scrolls sideways. Screenshots of the palette, the ledger and a step at both sizes go to the test's
``tmp_path`` and, when ``PATCHBAY_SCREENSHOT_DIR`` is set, there too.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); the
test is skipped, saying so, only when they are not installed.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from store.connections import connect
from tests.api.conftest import TENANT, ApiUnderTest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SIZES = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
RUN_ID = "nightly-disk-check"


@pytest.fixture
def backend() -> str:
    """One database is enough here: the pages' reads run on both in test_console.py."""
    return "postgres"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium (no sandbox: CI runs as root), its console log kept."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f"headless Chromium is not installed ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: webdriver.Chrome, what: str, condition: Any, timeout: float = 15) -> Any:
    return WebDriverWait(driver, timeout).until(condition, message=f"timed out waiting for {what}")


def resize(driver: webdriver.Chrome, size: str) -> None:
    """Make the viewport exactly ``size`` (a phone also gets a touch screen's viewport rules)."""
    width, height, mobile = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def save(driver: webdriver.Chrome, name: str, folders: list[Path]) -> None:
    """Screenshots of the viewport and of the whole page, as ``<name>.png``/``-full.png``."""
    viewport = driver.get_screenshot_as_png()
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": content["width"],
                "height": min(content["height"], 8000),
                "scale": 1,
            },
        },
    )
    full = base64.b64decode(shot["data"])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(viewport)
        (folder / f"{name}-full.png").write_bytes(full)


def no_sideways_scroll(driver: webdriver.Chrome) -> tuple[int, int]:
    """(scrollWidth, innerWidth) of the page, once laid out."""
    widths: list[int] = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];"
    )
    return widths[0], widths[1]


def tile(driver: webdriver.Chrome, group: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'article[data-group="{group}"]')


def run_steps(api: ApiUnderTest) -> tuple[str, str]:
    """A ticket created and a note on a ticket nobody has (it fails), through the API."""
    client = api.client()
    created = f"{RUN_ID}:root.steps[0]:tickets.create@1"
    sent = client.post(
        "/v1/steps",
        json={
            "action_id": "tickets.create",
            "input": {"title": "Disk full on SRV-DC01", "priority": "high"},
            "run_id": RUN_ID,
            "step_path": "root.steps[0]",
        },
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["key"] == created
    note = client.post(
        "/v1/steps",
        json={
            "action_id": "tickets.add_note",
            "input": {"ticket_id": str(uuid.uuid4()), "text": "Freed 12 GB on C:"},
            "run_id": RUN_ID,
            "step_path": "root.steps[1]",
        },
    )
    assert note.status_code == 202, note.text
    failed: str = note.json()["key"]
    for key, status in ((created, "SUCCEEDED"), (failed, "FAILED")):
        done = client.get("/v1/steps/" + quote(key, safe=":@"), params={"wait": 20})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == status, done.text
    return created, failed


def test_the_console_in_headless_chromium(
    api: ApiUnderTest, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    folders = [tmp_path / "screenshots"]
    if os.environ.get("PATCHBAY_SCREENSHOT_DIR"):
        folders.append(Path(os.environ["PATCHBAY_SCREENSHOT_DIR"]))
    with api.runtime.store.sessions.begin() as session:
        connect(session, TENANT, "ninjaone", instance_url="https://app.ninjarmm.com")
    created, failed = run_steps(api)
    driver = browser
    resize(driver, "desktop")

    # Without JavaScript: sign in, browse, open an action's inputs, follow links.
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    driver.get(f"{api.base_url}/console/palette")
    wait_for(driver, "the sign-in form", lambda d: "/console/login" in d.current_url)
    driver.find_element(By.ID, "token").send_keys(api.token(TENANT, "read"))
    driver.find_element(By.CSS_SELECTOR, ".login-form button[type=submit]").click()
    wait_for(driver, "the palette", lambda d: d.current_url.endswith("/console/palette"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Palette"

    ninja = tile(driver, "app:ninjaone")
    assert ninja.find_element(By.CLASS_NAME, "badge").text == "Connected"
    assert ninja.find_element(By.CSS_SELECTOR, "svg[data-icon=ninjaone]").is_displayed()
    huntress = tile(driver, "app:huntress")
    assert "tile-off" in (huntress.get_attribute("class") or "")
    assert huntress.find_element(By.CLASS_NAME, "badge").text == "Disconnected"
    hint = huntress.find_element(By.CLASS_NAME, "hint").text
    assert "Huntress is not connected" in hint
    assert "patchbay connect huntress --tenant acme" in hint

    ticket = tile(driver, "ticket")
    summary = next(
        s for s in ticket.find_elements(By.TAG_NAME, "summary") if "tickets.create@1" in s.text
    )
    title_field = summary.find_element(By.XPATH, "..//code[@class='field-name'][text()='title']")
    assert not title_field.is_displayed()
    summary.click()
    wait_for(driver, "the action's inputs", lambda d: title_field.is_displayed())

    driver.find_element(By.LINK_TEXT, "Ledger").click()
    wait_for(driver, "the ledger", lambda d: d.current_url.endswith("/console/ledger"))
    rows = driver.find_elements(By.CSS_SELECTOR, "table.ledger tbody tr")
    shown = {r.find_element(By.CLASS_NAME, "key").text: r for r in rows}
    assert set(shown) == {created, failed}
    assert shown[created].find_element(By.CLASS_NAME, "pill").text == "SUCCEEDED"
    assert "Create ticket" in shown[created].text
    assert shown[failed].find_element(By.CLASS_NAME, "pill").text == "FAILED"
    assert "NOT_FOUND" in shown[failed].find_element(By.CLASS_NAME, "error").text
    assert not driver.find_elements(By.CSS_SELECTOR, "meta[http-equiv=refresh]")

    shown[created].find_element(By.CLASS_NAME, "step-link").click()
    wait_for(driver, "the step", lambda d: "/console/steps/" in d.current_url)
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Create ticket")
    assert created in driver.find_element(By.CSS_SELECTOR, ".facts .key").text
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})

    # At each size: the stylesheet applies and the page fits the screen's width.
    pages = {
        "palette": "/console/palette",
        "ledger": "/console/ledger",
        "step": "/console/steps/" + quote(failed, safe=":@"),
    }
    for size in SIZES:
        resize(driver, size)
        for name, path in pages.items():
            driver.get(api.base_url + path)
            wait_for(
                driver,
                f"the {name} page",
                lambda d: d.execute_script("return document.readyState") == "complete",
            )
            body = driver.find_element(By.TAG_NAME, "body")
            assert body.value_of_css_property("background-color") == "rgba(245, 247, 250, 1)"
            scroll_width, inner_width = no_sideways_scroll(driver)
            assert inner_width == SIZES[size][0]
            assert scroll_width <= inner_width, f"{name} at {size} scrolls sideways"
            if name == "palette":
                off = tile(driver, "app:huntress").find_element(By.CSS_SELECTOR, "svg.icon")
                assert "grayscale(1)" in off.value_of_css_property("filter")
            elif name == "ledger":
                ledger = driver.find_element(By.CSS_SELECTOR, "table.ledger")
                assert ledger.is_displayed()
                heads = driver.find_element(By.CSS_SELECTOR, "table.ledger thead")
                assert heads.is_displayed() is (size == "desktop")  # stacked on a phone
            save(driver, f"{name}-{size}", folders)

    # Nothing the pages asked for was refused (a CSP violation, a missing file).
    log: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    problems = [e for e in log if e.get("level") == "SEVERE"]
    assert problems == []
    expected = {f"{n}-{s}{f}.png" for n in pages for s in SIZES for f in ("", "-full")}
    for folder in folders:
        assert expected <= {p.name for p in folder.glob("*.png")}
