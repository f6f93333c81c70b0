"""Issue 15's layout in a real browser: an 800 px laptop and a 1024 × 768 projector (sidebar open), a phone.

What AppTest can't see: sizes on the screen. At 800 px the sidebar leaves the page about 500 px; there the
Feature maps input must not cover the layer column, Detection's metrics and the batch-norm label must not be
cut, a 16 × 16 matrix writes its numbers at least 10 px high, and Segmentation's pictures start level. The
Convolution page keeps its tab across a language switch and plays its animation in the browser.
Screenshots go to test-artifacts/layout_*.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_browser
from test_browser import ARTIFACTS, CHROMIUM, FLAGS

from cnnviz.ui.text import tr

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")

MIN_TEXT_PX = 10


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """test_browser's streamlit server (started the same way), one for this module."""
    yield from test_browser.server.__wrapped__()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser, server: str, path: str, width: int, height: int = 768):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(120_000)
    page.goto(f"{server}/{path}", wait_until="domcontentloaded")
    page.locator("h1").first.wait_for()
    _idle(page)
    return page


def _idle(page) -> None:
    page.wait_for_timeout(800)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=120_000)
    page.wait_for_timeout(700)  # charts draw after the script is done


def _cut(page, selector: str) -> list[str]:
    """Texts inside `selector` that their box cuts: wider than the box, which hides the rest (an ellipsis)."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].flatMap(root => [root, ...root.querySelectorAll('*')])
            .filter(e => e.textContent.trim() && getComputedStyle(e).overflowX !== 'visible'
                         && e.scrollWidth > e.clientWidth + 1)
            .map(e => e.textContent.trim())""",
        selector,
    )


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout_{name}.png"))


@pytest.mark.parametrize("width", [800, 1024])
def test_pages_fit_beside_the_open_sidebar(browser, server: str, width: int) -> None:
    page = _open(browser, server, "Feature_maps", width)
    try:
        assert page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "false"
        picture = page.locator("[data-testid='stImage'] img").first.bounding_box()
        for element in (".st-key-layer", ".st-key-n_channels"):  # the layer picker and the grid's slider
            box = page.locator(element).bounding_box()
            apart_x = (
                picture["x"] + picture["width"] <= box["x"] + 1 or box["x"] + box["width"] <= picture["x"] + 1
            )
            apart_y = (
                picture["y"] + picture["height"] <= box["y"] + 1
                or box["y"] + box["height"] <= picture["y"] + 1
            )
            assert apart_x or apart_y, (element, picture, box)
        _shot(page, f"feature_maps_{width}")

        page.goto(f"{server}/Detection", wait_until="domcontentloaded")
        page.locator("[data-testid='stMetricValue']").first.wait_for()
        _idle(page)
        assert page.locator("[data-testid='stMetricValue']").count() == 4
        assert _cut(page, "[data-testid='stMetric']") == []
        _shot(page, f"detection_{width}")

        page.goto(f"{server}/Residual_gradients", wait_until="domcontentloaded")
        page.locator(".st-key-res_bn").wait_for()
        _idle(page)
        assert _cut(page, ".st-key-res_bn") == []

        page.goto(f"{server}/Segmentation", wait_until="domcontentloaded")
        page.get_by_role("heading", name=tr("seg.truth", "en")).first.wait_for()
        page.wait_for_function(
            "document.querySelectorAll('[data-testid=stColumn] [data-testid=stImage] img').length >= 3"
        )
        _idle(page)
        tops = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=stColumn]')]
                .map(c => c.querySelector('[data-testid=stImage] img')).filter(Boolean)
                .map(img => img.getBoundingClientRect()).map(r => [Math.round(r.top), Math.round(r.left)])"""
        )
        # The first picture of each column (semantic, instance, ground truth) that shares the first's row.
        first_row = [top for top, _ in tops[:3] if abs(top - tops[0][0]) < 200]
        assert len(first_row) >= 2, tops
        assert max(first_row) - min(first_row) <= 2, tops
        _shot(page, f"segmentation_{width}")
    finally:
        page.close()


def test_a_16_by_16_window_writes_readable_numbers_at_800_px(browser, server: str) -> None:
    page = _open(browser, server, "Image_as_data", 800)
    try:
        size = page.locator(".st-key-px_size input[type='range']")
        size.focus()
        size.press("End")  # the largest window, 16 × 16
        _idle(page)
        assert "16" in page.locator(".st-key-px_size").inner_text()
        heights = page.evaluate(
            """() => [...document.querySelectorAll('.js-plotly-plot .heatmap-label')]
                .map(e => e.getBoundingClientRect().height).filter(h => h > 0)"""
        )
        assert len(heights) >= 16 * 16, len(heights)
        # The label box is about 1.3 × the font size.
        assert min(heights) >= MIN_TEXT_PX * 1.2, min(heights)
        _shot(page, "image_as_data_800")
    finally:
        page.close()


def test_a_phone_gets_the_whole_width(browser, server: str) -> None:
    page = _open(browser, server, "Feature_maps", 390, 844)
    try:
        assert page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"
        width = page.evaluate(
            "() => document.querySelector('[data-testid=stMainBlockContainer]').clientWidth"
        )
        assert width >= 350
        _shot(page, "feature_maps_390")
    finally:
        page.close()


def test_convolution_tab_survives_korean_and_plays_in_the_browser(browser, server: str) -> None:
    page = _open(browser, server, "Convolution_and_pooling", 1024)
    try:
        page.get_by_role("tab", name=tr("conv.tab.pool", "en")).click()
        _idle(page)
        page.locator("[data-testid='stSidebar']").get_by_text("ko", exact=True).click()
        _idle(page)
        selected = page.get_by_role("tab", name=tr("conv.tab.pool", "ko"))
        assert selected.get_attribute("aria-selected") == "true"

        page.get_by_role("tab", name=tr("conv.tab.conv", "ko")).click()
        _idle(page)
        page.locator(".st-key-conv_animate label").first.click()
        _idle(page)
        chart = page.locator(".st-key-conv_animation .js-plotly-plot")
        chart.wait_for()
        step = chart.locator(".slider-group > .slider-label")  # plotly's "current value" line
        before = step.text_content()
        chart.locator(".updatemenu-button").filter(has_text="4×").click()
        page.wait_for_timeout(2500)  # 150 ms a step: about 16 steps, all in the browser
        after = step.text_content()
        assert before != after, (before, after)
        assert page.locator("[data-testid='stStatusWidget']").count() == 0, "the server is not rerunning"
        chart.locator(".updatemenu-button").last.click()  # pause
        page.wait_for_timeout(400)
        paused = step.text_content()
        page.wait_for_timeout(800)
        assert step.text_content() == paused
        _shot(page, "convolution_animation_1024")
    finally:
        page.close()
