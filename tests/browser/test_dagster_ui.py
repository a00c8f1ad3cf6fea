"""The Dagster UI and the migration report in a real browser (#16 item 5): a small demo is
materialized through `migration_job` into a fresh DAGSTER_HOME, `dagster-webserver` serves the
project's code location from that instance on loopback, and headless Chromium (the system's,
driven by Playwright) checks that the asset graph shows every asset and every check, that
`migration_decision` shows its verdict and its plot, and that `migration_report.html` renders
with its images. Screenshots go to the test's tmp dir, and to $LLM_MIGRATE_SCREENSHOTS when set
(the README's come from `LLM_MIGRATE_SCREENSHOTS=docs/screenshots pytest -m slow tests/browser`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from local_services import patched_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RUN_CONFIG = {"ops": {"population_posterior": {"config": {"tune": 500}},
                      "auto_scores": {"config": {"bertscore": False}}}}
DEMO = {"demo_rows": 600, "demo_labels_per_dimension": 150, "demo_seed": 5}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"Chromium is absent ({CHROMIUM}): install the Debian package "
                              "`chromium` (.ci/run does where apt works)"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_dagster_home(folder: Path) -> Path:
    """A DAGSTER_HOME with telemetry off and the community pop-up already seen."""
    (folder / ".nux").mkdir(parents=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (folder / ".nux" / "nux.yaml").write_text("seen: 1\n")
    return folder


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The instance, warehouse and artifacts of one small demo run, in the environment the
    webserver's code location reads too."""
    tmp = tmp_path_factory.mktemp("ui")
    env = {"DAGSTER_HOME": str(fresh_dagster_home(tmp / "dagster_home")),
           "LLM_MIGRATE_DB": str(tmp / "warehouse.duckdb"),
           "LLM_MIGRATE_ARTIFACTS": str(tmp / "artifacts"),
           "LLM_MIGRATE_BI_SNAPSHOT": str(tmp / "bi.duckdb"),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    with patched_env(env):
        from assets.definitions import definitions
        from pipeline.cli.run import materialize_all
        from resources import DataSources

        defs = definitions(sources=DataSources(demo_dir=str(tmp / "demo"), **DEMO))
        assert materialize_all(defs, RUN_CONFIG), "the migration job failed"
        yield {"tmp": tmp, "env": env, "defs": defs}


@pytest.fixture(scope="module")
def webserver(environment):
    """`dagster-webserver` on a free loopback port, in a session of its own so that the whole
    process group is killed at the end (a background Dagster server ignores SIGTERM)."""
    port = free_port()
    log = open(environment["tmp"] / "webserver.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env={**os.environ, **environment["env"]}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server, environment["tmp"] / "webserver.log")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        log.close()


def wait_until_serving(url: str, server: subprocess.Popen, log: Path, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {server.returncode}:\n"
                        f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


def screenshot(page, tmp_path: Path, name: str, **options) -> None:
    """Into the test's tmp dir; with $LLM_MIGRATE_SCREENSHOTS, a copy there too, reduced to
    256 colours so that it stays small enough to commit."""
    page.screenshot(path=str(tmp_path / name), **options)
    folder = os.environ.get("LLM_MIGRATE_SCREENSHOTS")
    if folder:
        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        with Image.open(tmp_path / name) as image:
            image.convert("RGB").quantize(colors=256).save(Path(folder) / name, optimize=True)


def loaded_images(page, selector: str = "img") -> list[int]:
    """The natural widths of the images ``selector`` finds, once each has loaded (0: a
    broken image)."""
    page.wait_for_function(
        f"Array.from(document.querySelectorAll({selector!r})).every(i => i.complete)")
    return page.eval_on_selector_all(selector, "images => images.map(i => i.naturalWidth)")


def expected_checks(defs) -> dict[str, list[str]]:
    """asset -> the names of its checks, as the code location defines them (check specs of
    the assets and separate asset checks alike)."""
    checks: dict[str, list[str]] = {}
    for key in defs.resolve_asset_graph().asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    return checks


def checks_row(node, expected: int, timeout: float = 60) -> str | None:
    """The text of an asset node's "Asset checks" row, once it names ``expected`` checks
    (or, when the asset has none, at once)."""
    deadline = time.monotonic() + timeout
    while True:
        row = re.search(r"Asset checks(.*?)Partitions", node.evaluate("e => e.textContent"))
        text = row.group(1) if row else None
        if not expected or (text and re.search(rf"\b{expected}\b", text)) \
                or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def test_the_asset_graph_shows_every_asset_and_check(environment, webserver, browser,
                                                     tmp_path):
    defs = environment["defs"]
    assets = [key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()]
    checks = expected_checks(defs)
    assert checks, "the code location defines no asset check"
    # Large enough for Dagster to draw every node in full (smaller, it draws names only),
    # rendered at half scale so that the screenshot stays small.
    context = browser.new_context(viewport={"width": 3800, "height": 2600},
                                  device_scale_factor=0.5)
    graph = context.new_page()
    graph.goto(f"{webserver}/asset-groups", wait_until="networkidle")
    graph.locator("[data-svg-viewport]").wait_for()
    graph.mouse.click(3500, 2300)  # focus the graph (an empty spot), for its shortcut
    graph.keyboard.press("Alt+KeyE")  # the UI's shortcut: expand all groups
    for name in assets:
        node = graph.locator("foreignObject", has=graph.get_by_text(name, exact=True)).first
        node.wait_for(timeout=60_000)
        # "2 / 2 Passed": how many of the asset's checks passed; "–" while the UI is still
        # loading their status (it does so node by node), so read it until it says
        expected = len(checks.get(name, []))
        found = checks_row(node, expected)
        assert found is not None, f"{name}: its node has no asset-checks row"
        if expected:
            assert re.search(rf"\b{expected}\b", found), (name, found)
    screenshot(graph, tmp_path, "asset_graph.png")
    context.close()
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    for asset, names in checks.items():
        page.goto(f"{webserver}/assets/{asset}?view=checks", wait_until="networkidle")
        for check in names:
            page.get_by_text(check, exact=True).first.wait_for(timeout=60_000)
    screenshot(page, tmp_path, "asset_checks.png")
    page.close()


def test_the_decision_shows_its_verdict_and_plot(environment, webserver, page, tmp_path):
    import duckdb

    with duckdb.connect(environment["env"]["LLM_MIGRATE_DB"], read_only=True) as conn:
        verdicts = conn.execute("SELECT candidate, verdict FROM v_migration_verdict").fetchall()
    page.goto(f"{webserver}/assets/migration_decision", wait_until="networkidle")
    metadata = page.locator("tr", has=page.get_by_text("verdict", exact=True)).first
    metadata.wait_for(timeout=60_000)
    for candidate, verdict in verdicts:
        assert f'"{candidate}": "{verdict}"' in metadata.inner_text()
    posterior = page.locator("tr", has=page.get_by_text("posterior", exact=True)).first
    posterior.get_by_text("Show Markdown").click()
    plots = page.get_by_role("dialog").locator("img[src^='data:image/png']")
    plots.first.wait_for(timeout=60_000)
    assert plots.count() == len(verdicts)  # one posterior figure per candidate
    assert all(width > 300 for width in loaded_images(page, "img[src^='data:image/png']"))
    screenshot(page, tmp_path, "decision_metadata.png")


def test_the_report_renders_with_its_images(environment, page, tmp_path):
    report = Path(environment["env"]["LLM_MIGRATE_ARTIFACTS"]) / "migration_report.html"
    page.goto(report.as_uri(), wait_until="load")
    headings = page.eval_on_selector_all("section h2", "hs => hs.map(h => h.textContent)")
    assert headings == [
        "Verdict", "Δ per region and dimension", "Labels used and labels needed",
        "Which items to label next", "Calibration: automated scores against people",
        "Diagnostics and checks", "Calibration drift", "Replay cost and latency per model",
        "Inputs"]
    widths = loaded_images(page)
    assert len(widths) >= 6 and all(width > 300 for width in widths), widths
    screenshot(page, tmp_path, "report.png")
