"""The model zoo: every architecture offline, pretrained files from the hub cache, the bundled LeNet-5."""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image, ImageDraw
from torch import nn

from cnnviz.data.digits import digit_grid, load_grids, split_digits, upscale
from cnnviz.models import (
    BundledWeights,
    LoadedModel,
    ModelSpec,
    WeightsMissingError,
    get_spec,
    list_specs,
    load,
    register,
    registry,
    weights_present,
    zoo,
)
from cnnviz.models.lenet import LENET5, LeNet5
from cnnviz.train import TRAINERS, train
from cnnviz.ui.text import TEXT, tr
from cnnviz.weights import read_card, sha256_file

REQUIRED = {
    "lenet5",
    "mobilenet_v2",
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "mobilenet_v3_large",
    "regnet_y_400mf",
}
ALL_NAMES = [spec.name for spec in list_specs()]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # Small forward passes on a shared 2-core machine: extra threads only wait for each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _weights_of(spec: ModelSpec) -> registry.WeightSource:
    assert spec.weight_source is not None, spec.name
    return spec.weight_source


def _small_input(spec: ModelSpec) -> torch.Tensor:
    height, width = spec.input_size
    if max(height, width) > 64:  # the ImageNet models pool adaptively, so 64×64 exercises every layer
        height = width = 64
    return torch.rand(1, spec.in_channels, height, width, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------------------------------------- registry


def test_registry_holds_the_lecture_zoo() -> None:
    assert set(ALL_NAMES) >= REQUIRED
    assert ALL_NAMES[0] == "lenet5"  # the history starts with the offline models: LeNet-5, the minis, ...
    assert ALL_NAMES.index("mobilenet_v2") < ALL_NAMES.index("alexnet")  # ... then real ImageNet weights
    for spec in list_specs():
        note = TEXT[f"model.note.{spec.name}"]  # every model's note lives in the EN/KO table
        assert all(text.strip() and "\n" not in text for text in note), spec.name
        assert spec.source in ("bundled", "weight pack", "torchvision")
        assert len(spec.mean) in (1, spec.in_channels) and len(spec.std) in (1, spec.in_channels)
    for name in REQUIRED - {"lenet5"}:
        spec = get_spec(name)
        assert (spec.task, spec.in_channels, spec.input_size) == ("classification", 3, (224, 224))
        assert len(spec.categories) == 1000 and spec.categories[281] == "tabby"
    assert get_spec("mobilenet_v2").source == "weight pack"
    assert get_spec("lenet5").source == "bundled"
    assert get_spec("lenet5").categories == tuple("0123456789")
    assert {s.name for s in list_specs(tag="se")} >= {
        "efficientnet_b0",
        "mobilenet_v3_large",
        "regnet_y_400mf",
    }
    assert "lenet5" not in {s.name for s in list_specs(tag="residual")}
    assert all(s.task == "classification" for s in list_specs("classification"))


def test_every_model_note_names_a_registered_model() -> None:
    notes = {key.removeprefix("model.note.") for key in TEXT if key.startswith("model.note.")}
    assert notes == set(ALL_NAMES), sorted(notes ^ set(ALL_NAMES))


def test_registry_errors_name_the_bad_argument() -> None:
    with pytest.raises(KeyError, match="'no_such_net'"):
        get_spec("no_such_net")
    with pytest.raises(ValueError, match="'painting'"):
        list_specs(task="painting")
    with pytest.raises(ValueError, match="a different model is already registered as 'lenet5'"):
        register(dataclasses.replace(LENET5, family="Not LeNet"))
    with pytest.raises(ValueError, match="in_channels of 'x'"):
        dataclasses.replace(LENET5, name="x", in_channels=2)
    # Re-registering the same spec (Streamlit re-importing a module) is quiet.
    assert register(LENET5) is LENET5


# ------------------------------------------------------------------------------------------- untrained


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_architecture_builds_untrained_offline(
    name: str, torch_home: Path, no_network: list[str]
) -> None:
    spec = get_spec(name)
    rng_before = torch.get_rng_state()
    loaded = load(name, pretrained=False)
    assert torch.equal(torch.get_rng_state(), rng_before)  # untrained weights come from their own seed
    assert isinstance(loaded, LoadedModel)
    assert loaded.weights == "untrained" and loaded.weights_name == "untrained" and loaded.message is None
    assert not loaded.model.training
    assert loaded.lock.acquire(blocking=False)
    loaded.lock.release()
    if spec.task == "classification":
        with torch.no_grad():
            logits = loaded.model(_small_input(spec))
        assert logits.shape == (1, len(spec.categories))
        assert torch.isfinite(logits).all()
    assert no_network == []


def test_untrained_weights_are_the_same_every_time(no_network: list[str]) -> None:
    first, second = load("resnet18", pretrained=False), load("resnet18", pretrained=False)
    for (key, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


# ------------------------------------------------------------------------------------------- hub cache


def _seeded_resnet18_file(checkpoints: Path) -> dict[str, torch.Tensor]:
    torch.manual_seed(1234)
    state = torchvision.models.resnet18().state_dict()
    name = Path(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url).name
    assert name == "resnet18-f37072fd.pth"
    torch.save(state, checkpoints / name)
    return state


def test_pretrained_file_in_the_hub_cache_loads_without_network(
    torch_home: Path, no_network: list[str]
) -> None:
    assert not weights_present("resnet18")
    state = _seeded_resnet18_file(torch_home)
    assert weights_present("resnet18")
    loaded = load("resnet18")
    assert loaded.weights == "torchvision pretrained"
    assert loaded.weights_name == "ResNet18_Weights.IMAGENET1K_V1"
    loaded_state = loaded.model.state_dict()
    assert loaded_state.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded_state[key], value), key
    untrained = load("resnet18", pretrained=False).model.state_dict()
    assert not torch.equal(untrained["conv1.weight"], state["conv1.weight"])
    assert no_network == []


def test_missing_pretrained_file_gives_one_sentence(torch_home: Path, no_network: list[str]) -> None:
    with pytest.raises(WeightsMissingError) as caught:
        load("resnet18", progress=False)
    sentence = str(caught.value)
    assert "resnet18" in sentence and "untrained" in sentence
    assert sentence.endswith(".") and "\n" not in sentence
    assert len(no_network) == 1 and "resnet18-f37072fd.pth" in no_network[0]  # one explicit try, no retries
    assert list(torch_home.iterdir()) == []  # no partial file left behind
    # The page translates by key and shows the path and network error on a line of their own.
    assert (caught.value.key, caught.value.model) == ("offline", "resnet18")
    assert "resnet18-f37072fd.pth" in caught.value.detail
    fallback = load("resnet18", allow_untrained=True, progress=False)
    assert fallback.weights == "untrained" and fallback.message == sentence


def test_missing_file_is_downloaded_with_progress(
    torch_home: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "served.pth"
    state = _seeded_resnet18_file(tmp_path)
    shutil.move(tmp_path / "resnet18-f37072fd.pth", source)
    calls: list[tuple[str, Path]] = []

    def fake_download(url: str, destination: Path, *, progress: object) -> Path:
        calls.append((url, destination))
        assert callable(progress)
        progress(0, 100)
        shutil.copy(source, destination)
        progress(100, 100)
        return destination

    monkeypatch.setattr(zoo, "download_url", fake_download)
    seen: list[tuple[int, int]] = []
    loaded = load("resnet18", progress=lambda done, total: seen.append((done, total)))
    assert calls == [
        (torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url, torch_home / "resnet18-f37072fd.pth")
    ]
    assert seen == [(0, 100), (100, 100)]
    assert torch.equal(loaded.model.state_dict()["fc.weight"], state["fc.weight"])
    assert no_network == []


def test_weight_pack_model_never_downloads(torch_home: Path, no_network: list[str]) -> None:
    assert not weights_present("mobilenet_v2")
    with pytest.raises(WeightsMissingError, match=r"python -m cnnviz\.weights fetch") as caught:
        load("mobilenet_v2")
    assert (caught.value.key, caught.value.model) == ("pack_missing", "mobilenet_v2")
    assert no_network == []
    assert load("mobilenet_v2", allow_untrained=True).weights == "untrained"


def test_damaged_cache_file_gives_one_sentence(torch_home: Path, no_network: list[str]) -> None:
    (torch_home / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsMissingError, match="cannot be read") as caught:
        load("resnet18")
    assert "\n" not in str(caught.value)
    assert (caught.value.key, caught.value.model) == ("unreadable", "resnet18")
    assert no_network == []


def test_mobilenet_v2_weight_pack_sees_a_cat(no_network: list[str]) -> None:
    if not weights_present("mobilenet_v2"):
        pytest.skip(
            "the MobileNetV2 weight pack is not on this machine; run `python -m cnnviz.weights fetch`"
        )
    from skimage import data

    loaded = load("mobilenet_v2")
    assert loaded.weights == "weight pack"
    assert sha256_file(_weights_of(get_spec("mobilenet_v2")).path()).startswith("b03531047ffacf1e")
    with torch.no_grad():
        probabilities = loaded.model(loaded.preprocess(Image.fromarray(data.chelsea()))).softmax(dim=1)[0]
    top = int(probabilities.argmax())
    assert 281 <= top <= 285, loaded.categories[top]  # ImageNet's domestic cats
    assert "cat" in loaded.categories[top] or loaded.categories[top] == "tabby"
    assert no_network == []


# ------------------------------------------------------------------------------------------- preprocessing


def test_preprocess_is_torchvisions_own_transform(no_network: list[str]) -> None:
    loaded = load("resnet18", pretrained=False)
    rgba = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 4), dtype=np.uint8), "RGBA")
    batch = loaded.preprocess(rgba)
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == torch.float32
    reference = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()(rgba.convert("RGB"))
    torch.testing.assert_close(batch[0], reference)
    # What the model sees: resize the short side to 256, centre-crop 224, nothing else.
    expected = np.asarray(TF.center_crop(TF.resize(rgba.convert("RGB"), [256]), [224]))
    view = loaded.model_view(rgba)
    assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    assert np.abs(view.astype(int) - expected.astype(int)).max() <= 1
    # A tensor made elsewhere (shifted, augmented) is shown the same way, with or without its batch axis.
    np.testing.assert_array_equal(loaded.model_view(batch), view)
    np.testing.assert_array_equal(loaded.model_view(batch[0]), view)
    with pytest.raises(TypeError, match=r"image must be a PIL\.Image\.Image"):
        loaded.preprocess(np.zeros((8, 8, 3)))  # type: ignore[arg-type]


def _centred_dataset_digit() -> np.ndarray:
    """A data set digit that fills rows 0..7 and columns 1..6 and is inky at every edge of that box."""
    grids, _ = load_grids()
    for grid in grids:
        ink_rows = np.flatnonzero((grid >= 0.25).any(axis=1))
        ink_cols = np.flatnonzero((grid >= 0.25).any(axis=0))
        box = [*ink_rows[[0, -1]], *ink_cols[[0, -1]]]
        if grid.max() == 1.0 and box == [0, 7, 1, 6] and not grid[:, [0, 7]].any():
            return grid
    raise AssertionError("no centred digit found")


def test_digit_grid_reproduces_the_data_set() -> None:
    grid = _centred_dataset_digit()
    # Drawn as a 32×32 bitmap (each block 4×4 pixels), dark ink on white paper, off-centre on a larger canvas.
    bitmap = np.kron(grid, np.ones((4, 4)))
    paper = np.ones((90, 70))
    paper[40:72, 20:52] = 1.0 - bitmap
    photo = Image.fromarray((paper * 255).round().astype(np.uint8), "L")
    np.testing.assert_allclose(digit_grid(photo), grid, atol=1e-6)
    # Light ink on a dark canvas (the browser canvas) gives the same grid.
    canvas = Image.fromarray(((1.0 - paper) * 255).round().astype(np.uint8), "L").convert("RGB")
    np.testing.assert_allclose(digit_grid(canvas), grid, atol=1e-6)
    assert not digit_grid(Image.new("RGB", (50, 50), "white")).any()


def _circle(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, end: float = 360.0) -> list:
    return [
        (cx + rx * math.sin(math.radians(a)), cy - ry * math.cos(math.radians(a)))
        for a in np.linspace(start, end, 24)
    ]


# Digits as a person draws them with the mouse: polylines in a unit box (x right, y down). The 7 has the bar
# through its middle that the data set's 7s have.
_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [_circle(0.5, 0.5, 0.32, 0.45)],
    "1": [[(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    "2": [
        [
            (0.2, 0.25),
            (0.3, 0.1),
            (0.5, 0.05),
            (0.7, 0.1),
            (0.8, 0.25),
            (0.75, 0.42),
            (0.2, 0.95),
            (0.85, 0.95),
        ]
    ],
    "3": [
        [
            (0.2, 0.12),
            (0.5, 0.05),
            (0.75, 0.15),
            (0.75, 0.35),
            (0.45, 0.48),
            (0.75, 0.6),
            (0.78, 0.8),
            (0.5, 0.95),
            (0.2, 0.88),
        ]
    ],
    "4": [[(0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.85, 0.65)]],
    "5": [
        [
            (0.8, 0.05),
            (0.28, 0.05),
            (0.24, 0.45),
            (0.5, 0.4),
            (0.75, 0.5),
            (0.78, 0.75),
            (0.55, 0.95),
            (0.2, 0.88),
        ]
    ],
    "6": [
        [
            (0.7, 0.05),
            (0.4, 0.25),
            (0.25, 0.55),
            (0.25, 0.8),
            (0.45, 0.95),
            (0.7, 0.85),
            (0.75, 0.65),
            (0.55, 0.5),
            (0.28, 0.6),
        ]
    ],
    "7": [[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)], [(0.3, 0.5), (0.8, 0.5)]],
    "8": [_circle(0.5, 0.27, 0.22, 0.22), _circle(0.5, 0.72, 0.27, 0.23)],
    "9": [_circle(0.5, 0.3, 0.25, 0.25, 90, 450), [(0.75, 0.3), (0.7, 0.95)]],
}
# Where on the 224×224 canvas: centred, large, small, low left, high right and wider than tall.
_PLACES = [(52, 22, 172, 202), (30, 30, 194, 194), (80, 60, 160, 170), (20, 50, 150, 210), (60, 10, 210, 140)]


def _drawn(digit: str, box: tuple[int, int, int, int], strokes=None) -> Image.Image:
    """A digit drawn like the app's canvas does it: white strokes 18 px wide on black, 224×224."""
    x0, y0, x1, y1 = box
    canvas = Image.new("RGB", (224, 224), "black")
    pen = ImageDraw.Draw(canvas)
    for line in strokes or _STROKES[digit]:
        points = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in line]
        pen.line(points, fill="white", width=18, joint="curve")
        for x, y in (points[0], points[-1]):  # round ends, like a browser's stroke
            pen.ellipse([x - 9, y - 9, x + 9, y + 9], fill="white")
    return canvas


def test_the_data_sets_framing_and_its_sevens() -> None:
    """What digit_grid copies, measured on the data set: every digit fills all 8 rows; 1793 of 1797 leave a
    column free; the horizontal centre of mass sits where the bounding box's centre does; and 95% of its 7s
    have a bar (3 or more inky blocks side by side in rows 3 to 5), so a 7 without one is new to LeNet-5."""
    grids, labels = load_grids()
    assert (grids[:, 0].max(axis=1) > 0).all() and (grids[:, 7].max(axis=1) > 0).all()
    spans = np.array([np.ptp(np.flatnonzero(g.max(axis=0) > 0)) + 1 for g in grids])
    assert (spans <= 7).sum() == 1793
    columns = grids.sum(axis=1)
    mass = (columns * np.arange(8)).sum(axis=1) / columns.sum(axis=1)
    middle = np.array([(np.flatnonzero(c > 0)[0] + np.flatnonzero(c > 0)[-1]) / 2 for c in columns])
    assert abs(mass.mean() - middle.mean()) < 0.05 and abs(mass.mean() - 3.5) < 0.1
    barred = (grids[labels == 7][:, 3:6] >= 0.5).sum(axis=2).max(axis=1) >= 3
    assert barred.mean() > 0.9


def test_held_out_digits_framed_from_their_bitmaps_are_read_as_well_as_the_grids() -> None:
    """The image path (digit_grid) frames a data-set digit the way the data set did: LeNet-5 reads the
    held-out digits, drawn as 32×32 bitmaps on a larger canvas, as well as it reads their own grids."""
    loaded, split = load("lenet5"), split_digits()
    framed = []
    for grid in split.held_out_grids:
        canvas = np.zeros((48, 48))
        canvas[8:40, 10:42] = np.kron(grid, np.ones((4, 4)))
        framed.append(loaded.preprocess(Image.fromarray((canvas * 255).round().astype(np.uint8))))
    labels = torch.from_numpy(split.held_out_labels)
    with torch.no_grad():
        through_images = float((loaded.model(torch.cat(framed)).argmax(1) == labels).float().mean())
        direct = float((loaded.model(upscale(split.held_out_grids)).argmax(1) == labels).float().mean())
    assert through_images >= direct - 0.01 and direct > 0.98  # measured 0.989 and 0.992


def test_lenet_reads_digits_drawn_like_the_canvas() -> None:
    loaded = load("lenet5")
    batch = torch.cat([loaded.preprocess(_drawn(d, box)) for d in _STROKES for box in _PLACES])
    with torch.no_grad():
        predicted = loaded.model(batch).argmax(dim=1)
    truth = torch.tensor([int(d) for d in _STROKES for _ in _PLACES])
    accuracy = float((predicted == truth).float().mean())
    print(f"LeNet-5 on drawn digits: {accuracy:.0%}")  # 48 of 50 (the two misses: 1s read as 3)
    assert accuracy >= 0.9
    sevens = predicted[truth == 7]
    assert (sevens == 7).all(), sevens.tolist()
    assert "7" in tr("side.draw_help", "en") and "7" in tr("side.draw_help", "ko")  # the help says how


def test_lenet_preprocess_matches_training(no_network: list[str]) -> None:
    grid = _centred_dataset_digit()
    bitmap = np.kron(grid, np.ones((4, 4)))
    image = Image.fromarray(((1.0 - bitmap) * 255).round().astype(np.uint8), "L").convert("RGB")
    loaded = load("lenet5")
    batch = loaded.preprocess(image)
    assert batch.shape == (1, 1, 32, 32)
    torch.testing.assert_close(batch, upscale(grid))
    view = loaded.model_view(image)
    assert view.shape == (32, 32, 1) and view.dtype == np.uint8


# ------------------------------------------------------------------------------------------- LeNet-5


def test_lenet5_is_the_lecture_table() -> None:
    model = LeNet5()
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
        for name, module in model.named_children()
    ]
    model(torch.zeros(1, 1, 32, 32))
    for hook in hooks:
        hook.remove()
    assert shapes == {
        "conv1": (6, 28, 28),
        "tanh1": (6, 28, 28),
        "pool1": (6, 14, 14),
        "conv2": (16, 10, 10),
        "tanh2": (16, 10, 10),
        "pool2": (16, 5, 5),
        "conv3": (120, 1, 1),
        "tanh3": (120, 1, 1),
        "flatten": (120,),
        "fc1": (84,),
        "tanh4": (84,),
        "fc2": (10,),
    }
    kinds = {name: type(module) for name, module in model.named_children()}
    assert [n for n, k in kinds.items() if k is nn.Tanh] == ["tanh1", "tanh2", "tanh3", "tanh4"]
    assert [n for n, k in kinds.items() if k is nn.AvgPool2d] == ["pool1", "pool2"]
    assert all(model.get_submodule(n).kernel_size == (5, 5) for n in ("conv1", "conv2", "conv3"))
    # 6·(25+1) + 16·(6·25+1) + 120·(16·25+1) + 84·(120+1) + 10·(84+1), by hand
    assert sum(p.numel() for p in model.parameters()) == 156 + 2416 + 48120 + 10164 + 850 == 61706


def test_bundled_lenet5_scores_its_card_on_the_held_out_digits(no_network: list[str]) -> None:
    card = read_card("lenet5")
    weights_file = _weights_of(get_spec("lenet5")).path()
    assert card["weights_sha256"] == sha256_file(weights_file)
    loaded = load("lenet5")
    assert loaded.weights == "bundled" and loaded.weights_name == "lenet5.safetensors"
    split = split_digits(card["split"]["seed"], card["split"]["held_out_fraction"])
    assert (len(split.train_labels), len(split.held_out_labels)) == (card["split"]["train"], 360)
    with torch.no_grad():
        predictions = loaded.model(upscale(split.held_out_grids)).argmax(dim=1).numpy()
    accuracy = float((predictions == split.held_out_labels).mean())
    assert accuracy >= 0.95
    # Two-sided: the card rounds to 6 decimals (357 / 360 = 0.991667); one digit more or less is 0.0028.
    assert accuracy == pytest.approx(card["held_out_accuracy"], abs=0.5e-6)
    assert no_network == []


def test_one_epoch_of_retraining_writes_weights_and_card(tmp_path: Path) -> None:
    assert "lenet5" in TRAINERS
    rng_before = torch.get_rng_state()
    card = train("lenet5", epochs=1, out_dir=tmp_path, progress=False)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert card["epochs"] == 1 and card["split"]["held_out"] == 360 and card["parameters"] == 61706
    assert read_card("lenet5", tmp_path) == card
    assert 0.0 <= card["held_out_accuracy"] <= 1.0
    weights = BundledWeights("lenet5", directory=tmp_path)
    model = weights.load(LENET5, progress=False)
    assert isinstance(model, LeNet5)
    assert card["weights_sha256"] == sha256_file(weights.path())


def test_missing_bundled_weights_name_the_train_command(tmp_path: Path) -> None:
    spec = dataclasses.replace(LENET5, weight_source=BundledWeights("lenet5", directory=tmp_path))
    with pytest.raises(WeightsMissingError, match=r"python -m cnnviz\.train lenet5") as caught:
        _weights_of(spec).load(spec, progress=False)
    assert caught.value.key == "bundled_missing"
    (tmp_path / "lenet5.safetensors").write_bytes(b"broken")
    with pytest.raises(WeightsMissingError, match="cannot be read") as caught:
        _weights_of(spec).load(spec, progress=False)
    assert caught.value.key == "unreadable"
    assert registry.get_spec("lenet5") is LENET5
