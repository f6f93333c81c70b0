"""Top images per channel and receptive-field boxes, against plain forward hooks and NaN propagation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dataset_sets import hook_count, make_set, plain_outputs
from torch import nn

from cnnviz.analysis.dataset import receptive_grid, top_images


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn(self.conv(x))  # out of place: the next module's input comes from no module


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(6, 8, 3, stride=2, dilation=2, padding=1),
        nn.ReLU(),
        Residual(8),
        nn.Conv2d(8, 5, 1),
    )


def reference(model: nn.Module, layer: str, x: torch.Tensor, paths: list[str], k: int):
    out = plain_outputs(model, [layer], x)[layer][-1]  # (N, C, H, W)
    flat = out.reshape(out.shape[0], out.shape[1], -1)
    rows = []
    for c in range(out.shape[1]):
        scored = [(float(flat[i, c].max()), paths[i], int(flat[i, c].argmax())) for i in range(len(paths))]
        scored.sort(key=lambda t: (-t[0], t[1]))
        rows.append(scored[:k])
    return rows, tuple(out.shape[2:])


@pytest.mark.parametrize("layer", ["1", "4", "5"])
def test_top_images_match_plain_hooks(layer: str) -> None:
    model = tiny()
    paths, x, _, batches = make_set(23, (3, 19, 17), batch=5)
    result = top_images(model, batches, layer, k=4)
    rows, grid = reference(model, layer, x, paths, 4)
    assert result.images == 23 and result.grid_size == grid and result.input_size == (19, 17)
    for c, row in enumerate(rows):
        assert list(result.paths[c]) == [p for _, p, _ in row]
        np.testing.assert_allclose(result.scores[c], [s for s, _, _ in row], rtol=1e-6)
        flat = [int(np.ravel_multi_index(tuple(p), grid)) for p in result.positions[c]]
        assert flat == [i for _, _, i in row]
    assert hook_count(model) == 0 and model.training


def test_batch_split_does_not_matter_and_ties_go_by_path() -> None:
    model = tiny()
    _, x, _, _ = make_set(6, (3, 16, 16))
    x = torch.cat([x, x[:3]])  # images 6..8 repeat 0..2: equal scores, told apart by path
    paths = ["b", "d", "f", "c", "e", "g", "a", "h", "e2"]
    one = top_images(model, [(paths, x, None)], "3", k=5)
    many = top_images(model, [([p], x[i : i + 1], None) for i, p in enumerate(paths)], "3", k=5)
    np.testing.assert_array_equal(one.paths, many.paths)
    np.testing.assert_allclose(one.scores, many.scores, rtol=1e-5)  # batch size changes conv rounding
    checked = 0
    for c in range(one.channels):
        row = list(one.paths[c])
        for twin, original in (("a", "b"), ("h", "d"), ("e2", "f")):
            if twin in row and original in row:
                first, second = sorted((twin, original))
                assert row.index(second) == row.index(first) + 1
                assert one.scores[c, row.index(first)] == one.scores[c, row.index(second)]
                checked += 1
    assert checked >= 5
    assert np.all(np.diff(one.scores, axis=1) <= 0)


def test_layer_as_module_and_bad_input() -> None:
    model = tiny()
    _, _, _, batches = make_set(5, (3, 16, 16))
    by_name = top_images(model, batches, "3", k=2)
    by_module = top_images(model, batches, model[3], k=2)
    np.testing.assert_array_equal(by_name.paths, by_module.paths)
    with pytest.raises(ValueError, match="did you mean"):
        top_images(model, batches, "33", k=2)
    with pytest.raises(ValueError, match="k must be"):
        top_images(model, batches, "3", k=0)
    with pytest.raises(ValueError, match="empty"):
        top_images(model, [], "3")
    with pytest.raises(ValueError, match="holds 5 images but paths names 4"):
        top_images(model, [(["a"] * 4, torch.zeros(5, 3, 8, 8), None)], "3")
    with pytest.raises(TypeError, match="tuple"):
        top_images(model, [torch.zeros(2, 3, 8, 8)], "3")
    assert hook_count(model) == 0


def nan_reference(model: nn.Module, layer: str, size: tuple[int, int]) -> np.ndarray:
    """For each output position, the bounding box of the input pixels whose NaN reaches it."""
    h, w = size
    x = torch.zeros(h * w, 3, h, w)
    for i in range(h * w):
        x[i, :, i // w, i % w] = float("nan")
    out = plain_outputs(model, [layer], x)[layer][-1]
    reached = out.isnan().any(dim=1).numpy()  # (h·w pixels, gh, gw)
    gh, gw = reached.shape[1:]
    boxes = np.zeros((gh, gw, 4), dtype=np.int64)
    for a in range(gh):
        for b in range(gw):
            pix = np.flatnonzero(reached[:, a, b])
            ys, xs = pix // w, pix % w
            boxes[a, b] = (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    return boxes


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, (3, 5), stride=(1, 2), padding=(2, 0))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.adapt = nn.AdaptiveMaxPool2d((5, 3))
        self.deconv = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.adapt(self.up(self.pool(torch.relu(self.conv(x))))))


@pytest.mark.parametrize(
    ("build", "layer"),
    [
        (tiny, "2"),
        (tiny, "4"),
        (tiny, "5"),
        (tiny, "6"),
        (Mixed, "pool"),
        (Mixed, "up"),
        (Mixed, "adapt"),
        (Mixed, "deconv"),
    ],
)
def test_receptive_boxes_match_nan_propagation(build, layer: str) -> None:
    torch.manual_seed(1)
    model = build().eval()
    size = (19, 17)
    grid = receptive_grid(model, layer, torch.zeros(1, 3, *size))
    expected = nan_reference(model, layer, size)
    positions = np.stack(np.meshgrid(*[np.arange(n) for n in grid.grid_size], indexing="ij"), axis=-1)
    np.testing.assert_array_equal(grid.boxes(positions), expected)


def test_boxes_without_spatial_layout_are_the_whole_image() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 14 * 14, 3))
    _, _, _, batches = make_set(4, (3, 16, 16))
    result = top_images(model, batches, "2", k=2)
    assert result.positions.shape == (3, 2, 0)
    assert (result.boxes == np.array([0, 0, 16, 16])).all()
