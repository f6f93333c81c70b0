"""cnnviz.charts: every figure read back (traces, axes, shapes) and compared with the inputs it came from."""

from __future__ import annotations

import itertools
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.colors import unlabel_rgb

from cnnviz import charts


def _nums(values) -> list[float | None]:
    """A trace's x/y/z (tuple or array, None for gaps) as plain Python floats."""
    return [None if v is None else float(v) for v in np.asarray(values, dtype=object).reshape(-1)]


def _band_colour(scale, pos: float) -> set[str]:
    """The colours of the colour-scale segment that strictly contains `pos` (0..1): one colour in a band."""
    stops = [(float(p), c) for p, c in scale]
    (segment,) = [{c0, c1} for (p0, c0), (p1, c1) in itertools.pairwise(stops) if p0 < pos < p1]
    return segment


def test_every_public_function_is_covered() -> None:
    covered = {
        "bars",
        "block_channel_heatmap",
        "category_grid",
        "channel_bars",
        "channel_colorscale",  # tests/test_readability.py and test_page_readability.py
        "conv_animation",  # tests/test_readability.py and test_page_readability.py
        "class_shares",
        "grouped_bars",
        "heatmap",
        "layer_diagram",
        "line_chart",
        "matrix",
        "pipeline",
        "scatter_compare",
        "score_strip",
        "spatial_sizes",
    }
    assert set(charts.__all__) == covered  # a new chart needs a test here
    assert all(callable(getattr(charts, name)) for name in charts.__all__)


# --- images of numbers ------------------------------------------------------------------------------------


def test_heatmap_keeps_the_array_and_draws_it_as_an_image() -> None:
    a = np.array([[0.123, -1.0, 2.5], [3.14159, 4.0, 5.006]], dtype=np.float32)
    fig = charts.heatmap(a, title="T", colorscale="RdBu", zmid=0.0)
    (trace,) = fig.data
    assert trace.type == "heatmap" and trace.x is None and trace.y is None  # row/col are the array indices
    np.testing.assert_array_equal(np.asarray(trace.z), a.astype(np.float64))
    assert np.asarray(trace.z).shape == (2, 3)  # rows stay rows (no transpose)
    assert trace.zmid == 0.0 and trace.text is None and trace.texttemplate is None
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top, as in an image
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells
    assert fig.layout.title.text == "T"


def test_heatmap_text_writes_the_values_rounded_to_two_decimals() -> None:
    a = np.array([[0.123, 2.5], [3.14159, 5.006]])
    trace = charts.heatmap(a, text=True).data[0]
    written = np.asarray(trace.text, dtype=np.float64)
    np.testing.assert_array_equal(written, [[0.12, 2.5], [3.14, 5.01]])  # hand-rounded
    assert trace.texttemplate == "%{text}"


def test_matrix_writes_every_number_in_its_format_and_outlines_the_window() -> None:
    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 3
    dim = np.zeros((3, 4), bool)
    dim[0, 3] = dim[2, 0] = True
    fig = charts.matrix(a, fmt=".1f", highlight=(1, 2, 2, 2), dim=dim)
    (trace,) = fig.data
    np.testing.assert_array_equal(np.asarray(trace.z), a)
    assert [list(row) for row in trace.text] == [
        [np.format_float_positional(v, precision=1, unique=False) for v in row] for row in a.tolist()
    ]
    assert trace.text[1][1] == "1.7" and trace.text[2][3] == "3.7"  # 5/3 and 11/3, rounded by hand
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.xaxis.side == "top"
    # Cell (r, c) is centred on (x=c, y=r); the highlight covers rows 1-2, columns 2-3, edge to edge.
    outline, *greyed = fig.layout.shapes
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (1.5, 3.5, 0.5, 2.5)
    centres = sorted(((s.y0 + s.y1) / 2, (s.x0 + s.x1) / 2) for s in greyed)
    assert centres == [(0.0, 3.0), (2.0, 0.0)]
    assert all(s.x1 - s.x0 == 1 and s.y1 - s.y0 == 1 for s in greyed)


def test_matrix_without_highlight_or_dim_has_no_shapes() -> None:
    fig = charts.matrix(np.eye(2), fmt=".0f")
    assert fig.layout.shapes == ()
    assert [list(row) for row in fig.data[0].text] == [["1", "0"], ["0", "1"]]


def test_category_grid_names_and_colours_every_cell_by_its_class() -> None:
    labels = np.array([[0, 2, 1], [3, 2, 0]])
    names = ["bg", "cat", "dog", "car"]
    colors = ["#000000", "#ff0000", "#00ff00"]  # fewer colours than classes: class 3 reuses colour 0
    fig = charts.category_grid(labels, names, colors, title="classes")
    (trace,) = fig.data
    np.testing.assert_array_equal(np.asarray(trace.z), labels)
    assert [list(row) for row in trace.text] == [["bg", "dog", "cat"], ["car", "dog", "bg"]]
    scale = trace.colorscale
    positions = [float(p) for p, _ in scale]
    assert positions[0] == 0 and positions[-1] == 1 and positions == sorted(positions)
    for k in range(len(names)):
        pos = (k - trace.zmin) / (trace.zmax - trace.zmin)  # where plotly puts z = k on the colour scale
        assert _band_colour(scale, pos) == {colors[k % len(colors)]}, k
    assert fig.layout.yaxis.autorange == "reversed"


def test_category_grid_writes_unknown_classes_as_numbers() -> None:
    trace = charts.category_grid(np.array([[0, 5], [-1, 1]]), ["a", "b"], ["#111111"]).data[0]
    assert [list(row) for row in trace.text] == [["a", "5"], ["-1", "b"]]


def test_block_channel_heatmap_rows_are_named_top_down_and_gaps_stay_empty() -> None:
    m = np.array([[0.1, 0.9, 0.5], [0.2, np.nan, np.nan]])
    fig = charts.block_channel_heatmap(m, ["block 1", 2], zmin=-1.0, zmax=2.0)
    (trace,) = fig.data
    z = np.asarray(trace.z, dtype=np.float64)
    np.testing.assert_array_equal(z[0], m[0])
    assert z[1, 0] == 0.2 and np.isnan(z[1, 1:]).all()  # NaN cells are not filled with a value
    assert trace.hoverongaps is False
    assert list(trace.y) == ["block 1", "2"]
    assert (trace.zmin, trace.zmax) == (-1.0, 2.0)
    assert fig.layout.yaxis.type == "category" and fig.layout.yaxis.autorange == "reversed"


# --- bars -------------------------------------------------------------------------------------------------


def test_horizontal_bars_read_top_down_in_the_given_order() -> None:
    labels, values = ["8", "3", "cat"], [0.5, 0.25, 0.125]
    fig = charts.bars(labels, values, title="p")
    (trace,) = fig.data
    assert trace.orientation == "h"
    # Plotly draws the first category at the bottom: the trace holds the list reversed so "8" is on top.
    assert list(trace.y) == labels[::-1] and _nums(trace.x) == values[::-1]
    assert list(trace.text) == ["0.125", "0.250", "0.500"]  # default ".3f", paired with its bar
    assert fig.layout.yaxis.type == "category"  # "8" is a class name, not the number 8
    assert fig.layout.xaxis.type is None  # linear unless asked


def test_vertical_bars_keep_the_order_and_log_puts_the_values_on_a_log_axis() -> None:
    fig = charts.bars([1, 10, 2], [3.0, 1e-3, 42.0], horizontal=False, log=True, value_format=".1e")
    (trace,) = fig.data
    assert trace.orientation in (None, "v")
    assert list(trace.x) == ["1", "10", "2"] and _nums(trace.y) == [3.0, 1e-3, 42.0]
    assert list(trace.text) == ["3.0e+00", "1.0e-03", "4.2e+01"]
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "log"
    horizontal_log = charts.bars(["a"], [1.0], log=True)
    assert horizontal_log.layout.xaxis.type == "log" and horizontal_log.layout.yaxis.type == "category"


def test_grouped_bars_one_trace_per_series_and_no_invalid_values() -> None:
    labels = ["b1", "b2", "b3"]
    series = {"plain": [1.0, math.nan, -2.0], "residual": [math.inf, 0.0, 4.0]}
    fig = charts.grouped_bars(labels, series, title="g", x_title="block", y_title="norm")
    assert [t.name for t in fig.data] == ["plain", "residual"]
    assert all(list(t.x) == labels for t in fig.data)
    # Non-finite values are left out; on a linear axis 0 and negatives stay.
    assert _nums(fig.data[0].y) == [1.0, None, -2.0]
    assert _nums(fig.data[1].y) == [None, 0.0, 4.0]
    assert fig.layout.barmode == "group" and fig.layout.showlegend is True
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "linear"
    assert fig.layout.xaxis.title.text == "block" and fig.layout.yaxis.title.text == "norm"


def test_grouped_bars_on_a_log_axis_drop_what_a_log_cannot_show() -> None:
    fig = charts.grouped_bars(["a", "b", "c", "d"], {"s": [1e-3, 0.0, -1.0, math.nan]}, log_y=True)
    assert _nums(fig.data[0].y) == [1e-3, None, None, None]
    assert fig.layout.yaxis.type == "log" and fig.layout.showlegend is False  # one series: no legend


def test_grouped_bars_stacked_piles_the_series() -> None:
    fig = charts.grouped_bars(["x"], {"a": [0.25], "b": [0.75]}, stacked=True)
    assert fig.layout.barmode == "relative"
    assert sum(_nums(t.y)[0] for t in fig.data) == 1.0


def test_channel_bars_in_channel_order() -> None:
    v = np.array([0.5, -1.0, 2.0, 0.0])
    fig = charts.channel_bars(v)
    (trace,) = fig.data
    assert _nums(trace.x) == [0, 1, 2, 3] and _nums(trace.y) == v.tolist()
    assert list(np.asarray(trace.customdata)) == [0, 1, 2, 3]
    assert fig.layout.xaxis.showticklabels is True


def test_channel_bars_sorted_highest_first_keep_each_channel_number() -> None:
    v = np.array([[0.5, -1.0], [2.0, 0.5]])  # any shape is flattened: channels 0..3
    fig = charts.channel_bars(v, sort=True, y_range=(-2.0, 2.0))
    (trace,) = fig.data
    ys, channels = _nums(trace.y), [int(c) for c in trace.customdata]
    flat = v.reshape(-1).tolist()
    assert channels == sorted(range(4), key=lambda c: (-flat[c], c))  # ties keep channel order
    assert ys == [flat[c] for c in channels] and ys == sorted(flat, reverse=True)
    assert fig.layout.xaxis.showticklabels is False  # positions are ranks, not channel numbers
    assert tuple(fig.layout.yaxis.range) == (-2.0, 2.0)
    assert (trace.marker.cmin, trace.marker.cmax) == (-2.0, 2.0)
    assert _nums(trace.marker.color) == ys  # the colour follows the bar it belongs to


def test_class_shares_read_top_down_with_each_class_in_its_colour() -> None:
    names = ["background", "person", "dog"]
    shares = [0.7, 0.2, 0.1]
    colors = ["#d0d0d0", "#ff0000", "#00ff00"]
    fig = charts.class_shares(names, shares, colors)
    (trace,) = fig.data
    assert trace.orientation == "h" and list(trace.y) == names[::-1] and _nums(trace.x) == shares[::-1]
    for label, colour, text in zip(trace.y, trace.marker.color, trace.text, strict=True):
        k = names.index(label)
        assert colour == colors[k]
        assert text == f"{round(shares[k] * 100, 1)}%"  # percent with one decimal
    assert fig.layout.yaxis.type == "category" and fig.layout.xaxis.tickformat == ".0%"
    lo, hi = fig.layout.xaxis.range
    assert lo == 0 and hi == pytest.approx(0.7 * 1.15)  # the longest bar plus room for its label


def test_spatial_sizes_colours_by_phase_and_keeps_the_stage_order() -> None:
    names = ["input", "enc1", "enc2", "mid", "dec1", "head"]
    heights = [64, 32, 16, 16, 32, 64]
    widths = [48, 24, 12, 12, 24, 48]
    channels = [3, 16, 32, 32, 16, 2]
    phases = ["input", "down", "down", "same", "up", "up"]
    legend = {"input": "In", "down": "Down", "same": "Same", "up": "Up"}
    boxed = [False, False, False, False, True, False]
    fig = charts.spatial_sizes(names, heights, widths, channels, phases, legend, per_box=boxed)
    assert list(fig.layout.xaxis.categoryarray) == names and fig.layout.xaxis.type == "category"
    seen = {}
    for trace in fig.data:
        for j, stage in enumerate(trace.x):
            seen[stage] = (
                trace.name,
                trace.y[j],
                trace.text[j],
                list(trace.customdata[j]),
                trace.marker.pattern.shape[j],
            )
    assert sorted(seen) == sorted(names)  # every stage exactly once
    for i, stage in enumerate(names):
        name, h, text, custom, hatch = seen[stage]
        assert name == legend[phases[i]] and h == heights[i]
        assert text == f"{heights[i]}×{widths[i]}" and custom == [channels[i], widths[i]]
        assert hatch == ("/" if boxed[i] else "")


# --- lines, points, boxes ---------------------------------------------------------------------------------


def test_line_chart_one_named_line_per_series_over_the_same_x() -> None:
    x = [1, 2, 4, 8]
    series = {"train": [1.0, 0.5, 0.25, 0.125], "test": [1.5, 0.75, 0.5, 0.4]}
    fig = charts.line_chart(x, series, log_y=True, x_title="epoch", y_title="loss")
    assert [t.name for t in fig.data] == ["train", "test"]
    for trace, values in zip(fig.data, series.values(), strict=True):
        assert _nums(trace.x) == x and _nums(trace.y) == values
        assert "lines" in trace.mode
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "epoch" and fig.layout.yaxis.title.text == "loss"
    assert charts.line_chart(["a", "b"], {"s": [1, 2]}).layout.yaxis.type in (None, "linear", "-")


def test_scatter_compare_one_point_per_channel_and_the_diagonal() -> None:
    a = np.array([0.1, 0.5, 0.9])
    b = np.array([[0.2], [0.5], [0.3]])
    fig = charts.scatter_compare(a, b, limits=(0.0, 2.0))
    diagonal, points = fig.data
    assert _nums(diagonal.x) == _nums(diagonal.y) == [0.0, 2.0]  # y = x over the limits
    assert _nums(points.x) == a.tolist() and _nums(points.y) == b.reshape(-1).tolist()
    assert [int(c) for c in points.customdata] == [0, 1, 2]
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range)
    lo, hi = fig.layout.xaxis.range
    assert lo < 0.0 and hi > 2.0  # the limits stay inside the plot


def test_score_strip_one_horizontal_box_per_group_with_every_point() -> None:
    groups = {"real": [0.9, 0.8, 0.95], "fake": [0.1, 0.3]}
    fig = charts.score_strip(groups, x_title="D(x)")
    assert [t.name for t in fig.data] == ["real", "fake"]
    for trace, values in zip(fig.data, groups.values(), strict=True):
        assert trace.type == "box" and trace.orientation == "h" and trace.boxpoints == "all"
        assert _nums(trace.x) == values
    assert tuple(fig.layout.xaxis.range) == (0, 1)


# --- diagrams ---------------------------------------------------------------------------------------------


def _texts_left_to_right(fig: go.Figure) -> list[str]:
    return [a.text for a in sorted(fig.layout.annotations, key=lambda a: (a.x, -a.y)) if a.text]


def test_layer_diagram_boxes_and_shapes_top_to_bottom() -> None:
    names, kinds = ["conv1", "pool1", "fc"], ["Conv2d", "MaxPool2d", "Linear"]
    shapes = ["6×28×28", "6×14×14", "10"]
    fig = charts.layer_diagram(names, kinds, shapes, "1×32×32")
    boxes = sorted(fig.layout.shapes, key=lambda s: -s.y0)
    assert len(boxes) == len(names) + 1  # the input and one box per layer
    centres = [(s.y0 + s.y1) / 2 for s in boxes]
    texts = [a for a in fig.layout.annotations if a.text and not a.showarrow]
    box_labels = sorted((a for a in texts if a.x == 0), key=lambda a: -a.y)
    assert [a.text for a in box_labels] == [
        "input",
        *[f"{n} · <i>{k}</i>" for n, k in zip(names, kinds, strict=True)],
    ]
    assert [a.y for a in box_labels] == pytest.approx(centres)
    # Each shape is written on the edge after the box that produced it, the input's on the first edge and
    # the last layer's output on the arrow leaving the last box.
    edge_labels = sorted((a for a in texts if a.x != 0), key=lambda a: -a.y)
    assert [a.text for a in edge_labels] == ["1×32×32", *shapes]
    for k, label in enumerate(edge_labels):
        assert centres[k] > label.y and (k + 1 == len(centres) or label.y > centres[k + 1])
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == len(edge_labels)
    assert all(a.ay > a.y for a in arrows)  # they point down
    lo, hi = fig.layout.yaxis.range
    assert hi > boxes[0].y1 and lo < min(a.y for a in arrows)  # nothing drawn outside the plot


def test_layer_diagram_needs_one_shape_per_layer() -> None:
    with pytest.raises(ValueError):
        charts.layer_diagram(["a", "b"], ["Conv2d", "Linear"], ["1×2×2"], "1×4×4")


def test_pipeline_steps_left_to_right_and_the_multiply_back_arc() -> None:
    steps = [("input", "7×7×32"), ("squeeze", "1×1×32"), ("fc", "1×1×8"), ("scale", "7×7×32")]
    fig = charts.pipeline(steps, title="SE")
    boxes = sorted((s for s in fig.layout.shapes if s.type == "rect"), key=lambda s: s.x0)
    assert len(boxes) == len(steps)
    centres = [(s.x0 + s.x1) / 2 for s in boxes]
    for (name, shape), cx in zip(steps, centres, strict=True):
        texts = {a.text for a in fig.layout.annotations if a.x == pytest.approx(cx) and not a.showarrow}
        assert texts == {f"<b>{name}</b>", shape}
    arrows = sorted((a for a in fig.layout.annotations if a.showarrow), key=lambda a: a.x)
    assert len(arrows) == len(steps) - 1
    for k, arrow in enumerate(arrows):  # arrow k joins box k to box k + 1
        assert boxes[k].x1 <= arrow.ax < arrow.x <= boxes[k + 1].x0 + 1e-9
    (arc,) = [s for s in fig.layout.shapes if s.type == "path"]
    assert arc.path.startswith(f"M {centres[0]},") and f" {centres[-1]},0.34" in arc.path
    no_arc = charts.pipeline(steps, multiply_back=False)
    assert [s.type for s in no_arc.layout.shapes] == ["rect"] * len(steps)


def test_matrix_draws_pixels_black_to_white_on_a_fixed_range() -> None:
    """Brighter pixels are lighter cells (the lecture's 0 = black, 255 = white), whatever the window holds."""
    window = np.array([[132.0, 169.0]])
    trace = charts.matrix(window, fmt=".0f", zmin=0, zmax=255).data[0]
    assert (trace.zmin, trace.zmax) == (0, 255)
    low, high = trace.colorscale[0][1], trace.colorscale[-1][1]
    assert sum(unlabel_rgb(low)) < sum(unlabel_rgb(high))  # the scale runs from dark to light
    # Ink matrices may ask for the reverse ("Greys": 0 white, 1 black).
    ink = charts.matrix(np.eye(2), fmt=".0f", colorscale="Greys", zmin=0, zmax=1).data[0]
    assert sum(unlabel_rgb(ink.colorscale[0][1])) > sum(unlabel_rgb(ink.colorscale[-1][1]))


def test_wide_matrix_keeps_its_numbers_for_hover_only() -> None:
    vector = np.linspace(0, 1, charts.MAX_WRITTEN_COLUMNS + 1)[None, :]
    trace = charts.matrix(vector, fmt=".2f").data[0]
    assert trace.texttemplate is None and list(trace.text[0]) == [format(v, ".2f") for v in vector[0]]
    narrow = charts.matrix(vector[:, : charts.MAX_WRITTEN_COLUMNS], fmt=".2f").data[0]
    assert narrow.texttemplate == "%{text}"


def test_log_axes_write_labels_between_decades_in_full() -> None:
    """Plotly's short minor labels (2, 3, … 9 between decades) read as whole numbers: they are written out."""
    figs = [
        charts.bars(["a", "b"], [0.01, 1.0], log=True),
        charts.line_chart([1, 2], {"s": [0.01, 1.0]}, log_y=True),
        charts.grouped_bars(["x"], {"s": [0.5]}, log_y=True),
    ]
    axes = [figs[0].layout.xaxis, figs[1].layout.yaxis, figs[2].layout.yaxis]
    assert all(ax.type == "log" and ax.minorloglabels == "complete" for ax in axes)


def test_compact_heatmap_fits_a_narrow_column() -> None:
    a = np.arange(6.0).reshape(2, 3)
    wide, narrow = charts.heatmap(a, "t"), charts.heatmap(a, "t", compact=True)
    assert wide.data[0].showscale is not False and narrow.data[0].showscale is False
    assert narrow.layout.height < wide.layout.height
    np.testing.assert_array_equal(np.asarray(narrow.data[0].z), a)  # the same values either way


def test_signed_matrix_centres_its_diverging_scale_on_zero() -> None:
    trace = charts.matrix(np.array([[0.0, 1.0], [0.0, 0.0]]), colorscale="RdBu", zmid=0).data[0]
    assert trace.zmid == 0  # a zero weight takes the scale's neutral middle, not its red end


def test_matrix_writes_no_minus_sign_on_a_zero() -> None:
    """0 × (−1) is −0.0 in floating point, and −0.001 rounds to zero: both are written "0.00"."""
    trace = charts.matrix(np.array([[-0.0, -0.001, -0.006, 0.004]]), fmt=".2f").data[0]
    assert list(trace.text[0]) == ["0.00", "0.00", "-0.01", "0.00"]


def test_small_heatmap_ticks_every_cell() -> None:
    small, large = charts.heatmap(np.zeros((4, 4))), charts.heatmap(np.zeros((56, 56)))
    assert small.layout.yaxis.dtick == 1 and small.layout.xaxis.dtick == 1
    assert large.layout.yaxis.dtick is None  # plotly picks the ticks of a large map
