"""What a person waits for in a real browser: every page's first view, and (with --switch) a layer switch.

Default: the first view of every page in a fresh browser context (empty cache, new session, as a student's
browser), headless chromium against `streamlit run`, printed beside the baseline measured before the
first-views work (`BASELINE`, the same script run on that commit). Each repeat starts a fresh server and
times, cold: Architectures' first visit and four untrained zoo models (from ticking "Use untrained weights"
to everything drawn); then each page once to warm the server's caches, and again in a fresh context
(the timed view). Each view is split into

- last message: navigation to the last websocket message before everything was drawn (the app's
  JavaScript loading, the server's script run and the transfer of its elements);
- browser after: from that message until every Plotly chart has drawn its SVG, every image is decoded and
  nothing runs (Plotly's 4.7 MB bundle is compiled here the first time a page has a chart);
- the websocket bytes (the page itself) and HTTP bytes (Streamlit's JavaScript, uncompressed, and images).

The "from Home" rows are what a student waits for inside the app: a fresh context opens Home, and once it is
drawn the page's link on Home is clicked; timed from the click (Streamlit's JavaScript is loaded already, and
a page's chart bundle is fetched on the first page that has a chart).

The floor rows time bench/floor_app.py the same way: a Streamlit page with a title and a sentence, then the
same with 1 and with 20 small Plotly charts. No page of the app can be faster than the floor with as many
charts as it has.

`--switch`: the earlier measurement on Feature maps: from a key press to the changed picture's new address,
for a layer switch (a whole rerun, the new map computed once) and the Grad-CAM opacity (a rerun, cached), as
ratios to one forward pass.

Needs Debian's chromium and playwright. The server inherits this process's environment: run it as the
README's numbers were, `OMP_NUM_THREADS=1 .venv/bin/python bench/browser.py --repeats 3`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass

from _local import CHROMIUM, FLAGS, ROOT, free_port, serve  # bench/ is the script's folder

sys.path.insert(0, str(ROOT))
REPEATS = 8


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


def layer_switch() -> None:
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # imported outside a server: cache warnings
    from forward import default_model_forward
    from playwright.sync_api import sync_playwright

    from cnnviz.ui.text import tr

    name, _, _, forward = default_model_forward()
    port = free_port()
    server = serve(port, timeout=90)
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
        ("switch layer: the page reruns, the new layer's map computed once", layer_s),
        ("move Grad-CAM opacity: the whole page reruns, cached", cam_s),
    ):
        print(f"| {what} | {seconds:.4f} | {seconds / forward:.2f} × forward |")


# --- first views ------------------------------------------------------------------------------------------

PAGES = [
    "",
    "Image_as_data",
    "Convolution_and_pooling",
    "Architectures",
    "Feature_maps",
    "Residual_gradients",
    "SE_attention",
    "Detection",
    "Segmentation",
    "Generation",
]
UNTRAINED = [  # (page, query parameter of its model picker, model): a cold server loads each untrained
    ("Segmentation", "segmenter", "deeplabv3_resnet50"),
    ("Feature_maps", "model", "resnet50"),
    ("Feature_maps", "model", "vgg16"),
    ("Detection", "detector", "fasterrcnn_resnet50_fpn"),
]
_STATE_JS = """() => {
  const q = s => Array.from(document.querySelectorAll(s));
  const charts = q("[data-testid='stPlotlyChart']");
  const drawn = charts.filter(c => c.querySelector('.main-svg')).length;
  const imgs = q("[data-testid='stMain'] img");
  return {
    running: q("[data-testid='stStatusWidget']").some(e => /Running|Connecting/i.test(e.textContent || ''))
      || q("[data-testid='stSpinner']").length > 0 || q("[data-testid='stSkeleton']").length > 0,
    main: q("[data-testid='stMain'] [data-testid='stElementContainer']").length,
    charts: charts.length, drawn: drawn,
    images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  };
}"""


@dataclass
class View:
    """One page load: seconds from navigation to the last websocket message and to everything drawn."""

    total: float  # navigation -> every chart drawn, every image decoded, nothing running
    last_message: float  # navigation -> the last websocket message of the run (server script + transfer)
    ws_bytes: int  # websocket bytes received (the page's elements and figures)
    http_bytes: (
        int  # HTTP response bytes (the app's JavaScript, Plotly's bundle, images from the media server)
    )
    charts: int

    @property
    def browser(self) -> float:
        """After the last message: the browser drawing (Plotly, images)."""
        return max(0.0, self.total - self.last_message)


def _view(browser, url: str, settle: float = 1.0, act=None) -> View:
    """Open `url` in a fresh browser context (empty cache, no session) and time it until drawn and quiet."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    frames: list[tuple[float, int]] = []
    http: list[int] = []

    def on_ws(ws) -> None:
        ws.on("framereceived", lambda payload: frames.append((time.perf_counter(), len(payload))))

    def on_done(request) -> None:
        with contextlib.suppress(Exception):  # a request torn down with its page
            http.append(request.sizes()["responseBodySize"])

    page.on("websocket", on_ws)
    page.on("requestfinished", on_done)
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    first = 0
    if callable(act):
        act(page)
        t0 = time.perf_counter()  # timed from the click
        first = len(frames)
    elif act is not None:
        page.get_by_text(act).first.wait_for()
        page.get_by_text(act).first.click()
        t0 = time.perf_counter()  # timed from the tick: the model's load, run and drawing
    ready_at = None
    while True:
        state = page.evaluate(_STATE_JS)
        now = time.perf_counter()
        quiet = not frames or now - frames[-1][0] > settle
        ready = (
            not state["running"]
            and state["main"] > 0
            and state["drawn"] == state["charts"]
            and state["loaded"] == state["images"]
        )
        if ready and ready_at is None:
            ready_at = now
        elif not ready:
            ready_at = None
        if ready and quiet and now - ready_at > settle:
            break
        if now - t0 > 240:
            raise SystemExit(f"{url} not drawn after 240 s: {state}")
        page.wait_for_timeout(50)
    # the last message before everything was drawn (later ones are the browser's own reruns, if any)
    last = max((t for t, _ in frames if t <= ready_at), default=t0)
    view = View(ready_at - t0, last - t0, sum(n for _, n in frames[first:]), sum(http), state["charts"])
    context.close()
    return view


def _open_from_home(slug: str):
    """An `act` for `_view`: once Home is drawn and idle, click its link to page `slug` (the app's own
    navigation: no new page load, Streamlit's JavaScript and any chart bundle already in the browser)."""

    def act(page) -> None:
        link = page.locator(f"[data-testid='stMain'] a[href='{slug}']").first
        link.wait_for()
        page.wait_for_function(f"() => !({_STATE_JS})().running")
        page.wait_for_timeout(1000)
        link.click()

    return act


def first_views(repeats: int, untrained_only: bool = False) -> dict[str, list]:
    """A cold server per repeat: Architectures' first visit and the untrained loads, then every page warm,
    each view in a fresh browser context (with `untrained_only`, only the untrained loads)."""
    from playwright.sync_api import sync_playwright

    from cnnviz.ui.text import tr

    tick = tr("side.untrained", "en")
    out: dict[str, list] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for k in range(repeats):
            port = free_port()
            server = serve(port, timeout=90)
            base = f"http://127.0.0.1:{port}"
            try:
                if not untrained_only:
                    out.setdefault("cold:Architectures", []).append(
                        _view(browser, f"{base}/Architectures?lang=en")
                    )
                for pg, key, model in UNTRAINED:
                    view = _view(browser, f"{base}/{pg}?lang=en&{key}={model}", act=tick)
                    out.setdefault(f"untrained:{model}", []).append(view)
                if untrained_only:
                    continue
                for pg in PAGES:  # a first visit warms the server's caches; the second is timed
                    _view(browser, f"{base}/{pg}?lang=en")
                    out.setdefault(f"page:{pg or 'Home'}", []).append(_view(browser, f"{base}/{pg}?lang=en"))
                for pg in PAGES[1:]:  # what a student sees: Home first, then a click to the page
                    view = _view(browser, f"{base}/?lang=en", act=_open_from_home(pg))
                    out.setdefault(f"from Home:{pg}", []).append(view)
            finally:
                server.terminate()
                server.wait(timeout=15)
            if untrained_only:
                print(f"repeat {k + 1}/{repeats} done", file=sys.stderr, flush=True)
                continue
            port = free_port()
            server = serve(port, timeout=90, script="bench/floor_app.py")
            try:
                for charts in (0, 1, 20):
                    url = f"http://127.0.0.1:{port}/?charts={charts}"
                    _view(browser, url)  # warm, as the pages are
                    out.setdefault(f"floor:{charts} charts", []).append(_view(browser, url))
            finally:
                server.terminate()
                server.wait(timeout=15)
            print(f"repeat {k + 1}/{repeats} done", file=sys.stderr, flush=True)
        browser.close()
    return out


BASELINE: dict[str, float] = {
    "cold:Architectures": 5.03,
    "untrained:deeplabv3_resnet50": 11.56,
    "untrained:resnet50": 3.75,
    "untrained:vgg16": 6.12,
    "untrained:fasterrcnn_resnet50_fpn": 7.50,
    "page:Home": 1.50,
    "page:Image_as_data": 2.51,
    "page:Convolution_and_pooling": 3.10,
    "page:Architectures": 2.64,
    "page:Feature_maps": 2.74,
    "page:Residual_gradients": 2.79,
    "page:SE_attention": 2.79,
    "page:Detection": 2.63,
    "page:Segmentation": 2.82,
    "page:Generation": 3.11,
    "from Home:Image_as_data": 1.29,
    "from Home:Convolution_and_pooling": 1.95,
    "from Home:Architectures": 1.46,
    "from Home:Feature_maps": 1.46,
    "from Home:Residual_gradients": 1.55,
    "from Home:SE_attention": 1.50,
    "from Home:Detection": 1.49,
    "from Home:Segmentation": 1.63,
    "from Home:Generation": 1.68,
}
"""Commit 85bde8e (before the first-views work), served and timed by this script, one repeat on this 2-core
machine at load average 2.6, right after the final code's run. An earlier baseline, taken at load 3.8
(Home 1.92 s, Convolution 3.93 s), made every later page look 0.65-0.92x as slow, which was mostly the load:
compare like with like.

The four "untrained" values are medians of 3 (`--untrained-only --repeats 3`, a fresh server each), run right
after the final code's own (load average 3.1-3.3): one repeat each had given 8.79, 1.88, 2.82 and 3.90 s for
the same commit, too noisy to compare with (an untrained VGG-16 alone takes 1.3-2.7 s to build)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--switch", action="store_true", help="time a layer switch instead (the old bench)")
    parser.add_argument(
        "--untrained-only", action="store_true", help="only the untrained models' first loads (cold servers)"
    )
    args = parser.parse_args()
    if args.switch:
        layer_switch()
        return
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    runs = first_views(args.repeats, args.untrained_only)
    print(
        f"chromium headless, 1400×1000, fresh context per view; median of {args.repeats} "
        f"(each repeat a fresh server); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print()
    print(
        "| first view | before (s) | now (s) | now / before | last message (s) | browser after (s) "
        "| websocket | HTTP | charts |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, views in runs.items():
        total = statistics.median(v.total for v in views)
        before = BASELINE.get(what)
        ratio = f"{total / before:.2f}" if before else ""
        print(
            f"| {what} | {before if before else '':} | {total:.2f} | {ratio} "
            f"| {statistics.median(v.last_message for v in views):.2f} "
            f"| {statistics.median(v.browser for v in views):.2f} "
            f"| {statistics.median(v.ws_bytes for v in views) / 1e3:.0f} kB "
            f"| {statistics.median(v.http_bytes for v in views) / 1e3:.0f} kB | {views[0].charts} |"
        )
    print()
    print(
        "BASELINE = " + repr({w: round(statistics.median(v.total for v in vs), 2) for w, vs in runs.items()})
    )


if __name__ == "__main__":
    main()
