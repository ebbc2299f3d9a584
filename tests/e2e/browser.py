"""Helpers of the console's browser tests: the platform in a background thread (Selenium's calls
block, so the server cannot share the test's event loop), headless Chromium from Debian's
packages driven by Selenium, and the page checks every test repeats (console errors, requests
that leave the gateway, axe-core accessibility, screenshots).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from services.common.logging import configure_logging
from services.common.settings import load_settings
from services.platform import Platform, running
from tests.conftest import ANY_FREE_GRPC_PORT, free_port

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("EARSHOT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EARSHOT_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = (390, 844)
"""CSS pixels of a phone (the seeds' clients are mobile)."""
DESKTOP = (1366, 900)


Setup = Callable[[Platform, str], Awaitable[Callable[[], Awaitable[None]] | None]]
"""Awaited in the platform's loop once it serves (with the platform and its URL); may return
a clean-up coroutine function, awaited before the platform stops."""


@contextmanager
def platform_in_thread(data_dir: Path, setup: Setup | None = None) -> Iterator[str]:
    """The whole platform (embedded defaults) serving HTTP on a free loopback port, run by its own
    event loop in a daemon thread; yields the base URL and stops it on exit.

    Raises:
        RuntimeError: the platform did not start within 300 s (the error it raised, if any).
    """
    configure_logging("warning")
    port = free_port()
    settings = load_settings(data_dir=data_dir, port=port, log_level="warning", **ANY_FREE_GRPC_PORT)
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with running(settings) as platform:
                cleanup = await setup(platform, f"http://127.0.0.1:{port}") if setup else None
                ready.set()
                await stop.wait()
                if cleanup is not None:
                    await cleanup()
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(300) or failure:
        raise RuntimeError(f"the platform did not start: {failure[0] if failure else 'timeout'}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)


def chromium(download_dir: Path, microphone: Path | None = None) -> WebDriver:
    """Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) with browser and network
    logs on, downloads into ``download_dir`` and a fake microphone that plays ``microphone`` (a
    16-bit WAV, looped) when given."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise RuntimeError(f"{CHROMIUM} / {CHROMEDRIVER} missing: run scripts/install_browser.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(arg)
    if microphone is not None:
        options.add_argument(f"--use-file-for-fake-audio-capture={microphone}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
    )
    driver.set_script_timeout(60)
    return driver


@dataclass
class Console:
    """A browser pointed at the console of one running platform."""

    driver: WebDriver
    url: str
    shots: Path

    def wait(self, timeout: float = 60) -> WebDriverWait:  # type: ignore[type-arg]
        """An explicit wait on the driver (an element replaced while read counts as not yet there)."""
        return WebDriverWait(
            self.driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
        )

    def open(self, fragment: str) -> None:
        """Navigate inside the single page (``#/temperature``...) and wait for its heading."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)
        self.wait(30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "main h1")))

    def find(self, css: str) -> Any:
        """The first element matching ``css`` (raises when there is none)."""
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text_of(self, css: str, timeout: float = 120) -> str:
        """Wait until ``css`` is present with text; its text."""
        self.wait(timeout).until(lambda d: d.find_element(By.CSS_SELECTOR, css).text.strip())
        return str(self.find(css).text.strip())

    def errors(self) -> list[str]:
        """Console messages of level SEVERE since the last call (JS errors, failed loads)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def foreign_requests(self) -> list[str]:
        """URLs requested since the last call that were not the gateway's (data: and blob: allowed)."""
        out = []
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") not in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                continue
            params = msg["params"]
            url = params["request"]["url"] if "request" in params else params["url"]
            origin = self.url.replace("http://", "ws://")
            if not url.startswith((self.url, origin, "data:", "blob:")):
                out.append(url)
        return out

    def axe(self) -> list[str]:
        """axe-core violations of WCAG 2 A/AA (contrast included) on the current page."""
        self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
            ".then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' -> ' +"
            " v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))"
            ".catch(e => done(['axe failed: ' + e]));"
        )
        return list(result)

    def screenshots(self, name: str) -> None:
        """Full-page PNGs at phone (emulated, 390 CSS px) and desktop width: ``shots/<name>-phone.png``
        and ``shots/<name>-desktop.png``."""
        for label, (width, height), mobile in (("phone", PHONE, True), ("desktop", DESKTOP, False)):
            self.emulate(width, height, mobile)
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 8000), "scale": 1},
                },
            )
            (self.shots / f"{name}-{label}.png").write_bytes(base64.b64decode(shot["data"]))
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def emulate(self, width: int, height: int, mobile: bool) -> None:
        """Lay the page out at ``width`` x ``height`` CSS pixels (Chrome's device emulation)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        self.driver.execute_script("return new Promise(r => requestAnimationFrame(() => setTimeout(r, 300)))")

    def overflow_x(self) -> list[str]:
        """Elements that stick out of the viewport sideways (empty when nothing scrolls sideways)."""
        return list(
            self.driver.execute_script(
                "const w = document.documentElement.clientWidth;"
                "if (document.documentElement.scrollWidth <= w) return [];"
                "return [...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right > w + 1)"
                ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8);"
            )
        )
