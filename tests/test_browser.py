"""End to end: the explorer served by `streamlit run`, driven by headless Chromium through Selenium.

It runs the real default model (SmolLM2-135M-Instruct) with the page's default prompt, checks that
the rendered page shows the model card and ' Paris' as the top next token, saves a screenshot to
artifacts/explorer-model.png, and checks from Chromium's network log that the page never asked
anything of a host other than the loopback server. Skipped where /usr/bin/chromium or
/usr/bin/chromedriver is missing (`make browser-deps` installs them).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "explorer.py"
SCREENSHOT = ROOT / "artifacts" / "explorer-model.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_TIMEOUT = 60  # seconds for the server to answer its health check
RENDER_TIMEOUT = 240  # seconds for the model to load and the top tokens to show
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


def _wait_until_up(proc: subprocess.Popen, url: str, log: Path) -> None:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with code {proc.returncode} before serving:\n{_tail(log)}")
        try:
            with no_proxy.open(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {START_TIMEOUT} s:\n{_tail(log)}")


@pytest.fixture
def server(tmp_path):
    """`streamlit run apps/explorer.py` on a free loopback port, with the default model; always stopped."""
    port = _free_port()
    log = tmp_path / "streamlit.log"
    env = {k: v for k, v in os.environ.items() if k != "INTERP_MODEL"}
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: killed whole below
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, url, log)
        yield url, log
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Headless Chromium with its performance (network) log on."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing: install chromium and chromium-driver (`make browser-deps`)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never look anything up online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER),
                                                               log_output=str(tmp_path / "chromedriver.log")))
    try:
        yield driver
    finally:
        driver.quit()


def _requested_urls(driver) -> list[str]:
    """Every URL the page requested or opened a websocket to, from Chromium's performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


_TICK_LABELS_JS = "return Array.from(document.querySelectorAll('.js-plotly-plot .ytick text'), e => e.textContent);"


def test_model_page_in_chromium(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, log = server
    browser.get(url)

    def rendered(driver) -> bool:
        labels = driver.execute_script(_TICK_LABELS_JS) or []
        running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        tables = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
        return any("Paris" in label for label in labels) and tables and not running

    try:
        WebDriverWait(browser, RENDER_TIMEOUT, poll_frequency=0.5).until(rendered)
    except Exception:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT.with_name("explorer-model-failed.png")))
        raise AssertionError(f"the top tokens never showed ' Paris' within {RENDER_TIMEOUT} s; page text:\n"
                             f"{browser.find_element(By.TAG_NAME, 'body').text[:2000]}\nserver log:\n{_tail(log)}")
    time.sleep(1.0)  # let plotly and the table finish drawing before the screenshot
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))

    labels = browser.execute_script(_TICK_LABELS_JS)
    assert labels[-1] == "' Paris'", labels  # bars are drawn bottom-up: the last tick is rank 1
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "SmolLM2-135M-Instruct" in text
    assert "30 layers" in text
    assert "most likely ' Paris'" in text
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]')
    assert "Traceback" not in text

    urls = _requested_urls(browser)
    assert any(urlsplit(u).port == urlsplit(url).port for u in urls), "the network log is empty"
    outside = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).hostname not in LOOPBACK]
    assert not outside, f"the page made requests to non-loopback hosts: {outside}"
