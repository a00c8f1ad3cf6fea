"""The BI project (bi/: Apache Superset over the BI snapshot) on a small demo's snapshot: set up
as `make bi` does, served as `make bi-serve` does, and read in headless Chromium. Every
dashboard renders its charts and shows the demo's numbers, read here from the snapshot, and
the browser fetches nothing from outside the server.

Needs bi/.venv (`make bi-install`; CI runs it) and /usr/bin/chromium; skips, saying so, without.
Set LLM_MIGRATE_BI_SCREENSHOTS=DIR to keep a screenshot of each dashboard (the README's).
"""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

BI = Path(__file__).resolve().parents[2] / "bi"
SUPERSET_BIN = BI / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "bi-test-password"
DASHBOARDS = ["verdict", "delta", "labels", "drift", "replay", "history"]


def cell(value, fmt: str | None = None) -> str:
    """A value as the dashboards' tables show it (their d3 formats are Python's here)."""
    if value is None:
        return "N/A"
    if isinstance(value, bool):
        return str(value).lower()
    return format(value, fmt) if fmt else str(value)


def rows(snapshot: Path, sql: str, formats: dict[int, str]) -> list[str]:
    """Each row of ``sql`` as a table row's text: cells joined by tabs."""
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        found = conn.execute(sql).fetchall()
    assert found, sql
    return ["\t".join(cell(v, formats.get(i)) for i, v in enumerate(row)) for row in found]


THREE = ".3f"
EXPECTED = {  # per dashboard: the table rows it must show, from the snapshot
    "verdict": ("SELECT candidate, incumbent, verdict FROM v_migration_verdict", {}),
    "delta": ("SELECT candidate, dimension, region, delta_mean, ci_low, ci_high, margin, "
              "p_better, decision FROM v_latest_decisions WHERE region IS NOT NULL",
              {3: THREE, 4: THREE, 5: THREE, 6: THREE, 7: THREE}),
    "labels": ("SELECT candidate, dimension, region, decision, n_labels, labelled_requests, "
               "unlabelled_requests, labels_needed, plan, settle_prob FROM v_latest_decisions",
               {9: ".2f"}),
    "drift": ("SELECT candidate, dimension, region, alarm, alarm_at, drifted, n_reference, "
              "n_stream, alpha FROM v_drift_status", {8: ".4f"}),
    "replay": ("SELECT model, source, requests, succeeded, error_rate, latency_p50_ms, "
               "latency_p95_ms, tokens_in, tokens_out, cost_usd FROM v_replay_stats",
               {4: ".1%", 5: ",.1f", 6: ",.1f", 9: ",.4f"}),
    "history": ("SELECT run, candidate, dimension, decision, changed, delta_mean, ci_low, "
                "ci_high, p_better, labelled_requests FROM v_decision_history "
                "WHERE region IS NULL", {5: THREE, 6: THREE, 7: THREE, 8: THREE}),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"superset exited: {log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"superset did not answer in {seconds} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def superset(demo_bi_snapshot, tmp_path_factory):
    """Superset set up on the demo's snapshot (bi/superset_setup.py, as `make bi`) and served on
    a free loopback port (as `make bi-serve`); its URL."""
    if not (SUPERSET_BIN / "superset").exists():
        pytest.skip("Superset is not installed: run `make bi-install` (bi/.venv)")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y --no-install-recommends chromium)")
    home = tmp_path_factory.mktemp("superset")
    env = {**os.environ, "LLM_MIGRATE_BI_HOME": str(home), "LLM_MIGRATE_BI_PASSWORD": PASSWORD,
           "SUPERSET_CONFIG_PATH": str(BI / "superset_config.py"), "FLASK_APP": "superset"}
    setup = subprocess.run([str(SUPERSET_BIN / "python"), str(BI / "superset_setup.py"),
                            "--snapshot", str(demo_bi_snapshot)], env=env, capture_output=True,
                           text=True, timeout=1200)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    url, log = f"http://127.0.0.1:{free_port()}", home / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(SUPERSET_BIN / "superset"), "run", "-h", "127.0.0.1",
                                   "-p", url.rsplit(":", 1)[1], "--with-threads"], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def log_in(page, superset: str, attempts: int = 3) -> None:
    """Log in as the admin. The login page posts a log event of its own while the form is
    sent; on a cold server the event's answer can land last and set an anonymous session
    cookie over the new one (seen in CI: POST /login/ 302, then back to /login/). So a
    login that does not stick is tried again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        page.goto(f"{superset}/login/")
        page.fill("[data-test=username-input]", "admin")
        page.fill("[data-test=password-input]", PASSWORD)
        page.click("[data-test=login-button]")
        try:
            page.wait_for_url(lambda url: "/login" not in url, timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"could not log in to Superset in {attempts} attempts")


@pytest.fixture(scope="module")
def browser_page(superset):
    """A logged-in Chromium page that may reach the server alone: every other request is
    refused and recorded in ``page.outside``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.outside = []

        def only_the_server(route):
            if route.request.url.startswith(superset):
                route.continue_()
            else:
                page.outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_server)
        log_in(page, superset)
        yield page
        browser.close()


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_each_dashboard_renders_the_demo_numbers(superset, browser_page, demo_bi_snapshot,
                                                 slug):
    page = browser_page
    page.goto(f"{superset}/superset/dashboard/{slug}/?standalone=1")
    page.wait_for_selector(".dashboard-chart")
    page.wait_for_function(  # every chart has drawn: a canvas, a table or a big number
        "() => [...document.querySelectorAll('.dashboard-chart')].every("
        "c => c.querySelector('canvas, table, .header-line'))", timeout=180_000)
    assert page.locator(".dashboard-chart .alert-danger, .dashboard-chart .ant-alert-error"
                        ).count() == 0, page.inner_text("body")[:2000]
    shown = page.inner_text("body").replace("\u2212", "-")
    sql, formats = EXPECTED[slug]
    missing = [row for row in rows(demo_bi_snapshot, sql, formats) if row not in shown]
    assert not missing, f"{slug} lacks rows {missing[:3]}; it shows:\n{shown[:3000]}"
    if slug in ("verdict", "delta", "labels", "replay", "history"):
        assert page.locator(".dashboard-chart canvas").count() >= 1  # an ECharts chart drew
    if slug == "drift":
        with duckdb.connect(str(demo_bi_snapshot), read_only=True) as conn:
            alarms = conn.execute("SELECT count(*) FILTER (WHERE alarm) FROM v_drift_status"
                                  ).fetchone()[0]
        big_number = page.locator(".dashboard-chart .header-line").first.inner_text()
        assert big_number.strip() == str(alarms)
    assert page.outside == []  # nothing from outside the server, the usage pixel included
    keep = os.environ.get("LLM_MIGRATE_BI_SCREENSHOTS")
    if keep:
        screenshot(page, Path(keep) / f"{slug}.png")


def screenshot(page, path: Path) -> None:
    """The whole dashboard: the window made as tall as the page (a full-page capture that
    resizes it makes Superset redraw its charts mid-capture), charts given time to settle."""
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(height, 4000)})
    page.wait_for_timeout(4000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})
