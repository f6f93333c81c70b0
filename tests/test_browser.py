"""A real browser against a real server: Playwright drives Debian's headless chromium.

Loads home, uploads a PNG, opens Feature maps and checks an image is shown and no exception box, then
uploads a corrupt file and checks for the error sentence. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.ui.text import tr

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ROOT = Path(__file__).resolve().parent.parent
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start within 90 s; see test-artifacts/streamlit.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _png_bytes() -> bytes:
    rng = np.random.default_rng(0)
    arr = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    arr[20:70, 30:90] = (250, 200, 20)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _wait_idle(page, timeout: float = 90_000) -> None:
    """Streamlit shows a 'running' status widget while a script runs; wait until it is gone."""
    page.wait_for_timeout(500)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout)


def test_upload_feature_maps_and_corrupt_file(server: str, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(_png_bytes())
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Generous: on a loaded 2-core machine a first model load and rerun can take tens of seconds.
        page.set_default_timeout(120_000)
        try:
            page.goto(server + "/", wait_until="domcontentloaded")
            page.get_by_role("heading", name=tr("app.title", "en")).wait_for(timeout=90_000)
            _wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "1_home.png"), full_page=True)

            sidebar = page.locator("[data-testid='stSidebar']")
            sidebar.get_by_text(
                tr("side.src.upload", "en"), exact=True
            ).first.click()  # the image source, not an uploader's button
            _wait_idle(page)

            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(good))
            _wait_idle(page)
            assert page.locator("[data-testid='stException']").count() == 0

            page.get_by_role("link", name=tr("page.features", "en")).first.click()
            page.get_by_role("heading", name=tr("page.features", "en")).wait_for(timeout=90_000)
            _wait_idle(page)
            # The input the model sees and the channel grid; the grid comes after the forward pass.
            page.locator("[data-testid='stImage'] img").nth(1).wait_for()
            _wait_idle(page)
            assert page.locator("[data-testid='stImage'] img").count() >= 2
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(ARTIFACTS / "2_feature_maps.png"), full_page=True)

            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(bad))
            _wait_idle(page)
            error = page.locator("[data-testid='stAlertContentError']").first
            error.wait_for(timeout=60_000)
            assert tr("err.image", "en", why="").strip() in error.inner_text()
            _wait_idle(page)
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(ARTIFACTS / "3_corrupt_upload.png"), full_page=True)
        finally:
            browser.close()
