"""What a person waits for in a real browser on the Feature maps page, as ratios to one forward pass.

`bench/app.py` measures with AppTest, which always reruns the whole page script. A served app reruns only
the layer column (an `st.fragment`) when the layer changes; this script measures that end to end in headless
chromium against `streamlit run`, next to a change that reruns the whole page with nothing recomputed
(the Grad-CAM opacity slider: the map is cached).

Each time is from the key press to the moment the changed picture's new address is in the page, so it
includes the websocket round trip and the browser's own work. Needs Debian's chromium and playwright.

Run: .venv/bin/python bench/browser.py
"""

from __future__ import annotations

import logging
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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
_SERVER_FLAGS = [
    "--server.address",
    "127.0.0.1",
    "--server.headless",
    "true",
    "--browser.gatherUsageStats",
    "false",
]
REPEATS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), *_SERVER_FLAGS],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start within 90 s")


def _timed_change(page, image_index: int, act) -> float:
    """Seconds from `act()` until the `image_index`-th picture of the page has a new address."""
    img = page.locator("[data-testid='stImage'] img").nth(image_index)
    before = img.get_attribute("src")
    t0 = time.perf_counter()
    act()
    page.wait_for_function(
        "([i, old]) => { const el = document.querySelectorAll(\"[data-testid='stImage'] img\")[i];"
        " return el && el.getAttribute('src') !== old; }",
        arg=[image_index, before],
        timeout=60_000,
    )
    return time.perf_counter() - t0


def main() -> None:
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # imported outside a server: cache warnings
    from forward import default_model_forward
    from playwright.sync_api import sync_playwright

    from cnnviz.ui.text import tr

    name, _, _, forward = default_model_forward()
    port = _free_port()
    server = _serve(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/Feature_maps?lang=en", wait_until="domcontentloaded")
            page.get_by_role("heading", name="Grad-CAM").wait_for()
            page.locator("[data-testid='stImage'] img").nth(2).wait_for()
            page.wait_for_timeout(2000)

            layer_box = page.locator("[data-testid='stSelectbox']").filter(has_text=tr("fm.layer", "en"))
            layers = ["features.1.conv.0", "features.2.conv.0", "features.3.conv.0", "features.4.conv.0"]

            def pick(layer: str) -> None:
                layer_box.locator("input").fill(layer)
                page.keyboard.press("Enter")

            # Pictures in page order: the model's input, the channel grid, the Grad-CAM overlay.
            layer_times = []
            for k in range(REPEATS):
                layer = layers[k % len(layers)]
                layer_box.locator("input").click()
                layer_times.append(_timed_change(page, 1, lambda layer=layer: pick(layer)))
                page.wait_for_timeout(500)

            slider = page.locator("[data-testid='stSlider']").filter(has_text=tr("fm.cam_alpha", "en"))
            thumb = slider.get_by_role("slider")
            cam_times = []
            for k in range(REPEATS):
                key = "ArrowRight" if k % 2 == 0 else "ArrowLeft"
                thumb.focus()
                cam_times.append(_timed_change(page, 2, lambda key=key: page.keyboard.press(key)))
                page.wait_for_timeout(500)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)

    layer_s, cam_s = statistics.median(layer_times), statistics.median(cam_times)
    print(f"model: {name}, chromium headless, median of {REPEATS} each")
    print()
    print("| in the browser | seconds | ratio |")
    print("|---|---:|---:|")
    print(f"| plain forward pass (median of 10, this process) | {forward:.4f} | 1.00 |")
    for what, seconds in (
        ("switch layer: the layer column reruns (fragment)", layer_s),
        ("move Grad-CAM opacity: the whole page reruns, cached", cam_s),
    ):
        print(f"| {what} | {seconds:.4f} | {seconds / forward:.2f} × forward |")


if __name__ == "__main__":
    main()
