"""`python -m cnnviz top-images|health`: the pinned command lines, checked against plain forward hooks.

The model is `usermodels.strange:build` (1 channel at 40 × 40) with a seeded checkpoint whose stem has two
channels forced dead by a very negative bias; the folder is generated PNGs, two of them identical (a tie).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from usermodels.strange import Strange

from cnnviz.cli import main

TESTS = Path(__file__).resolve().parent
DEAD = (1, 5)  # stem channels given a bias of -1e4
MODEL = ["--model", "usermodels.strange:build", "--input-size", "40", "--mean", "0.5", "--std", "0.25"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_dataset")
    torch.manual_seed(5)
    net = Strange().eval()
    with torch.no_grad():
        for c in DEAD:
            net.stem.bias[c] = -1e4
    save_file(net.state_dict(), root / "dead.safetensors")
    folder = root / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(11):
        pixels = rng.integers(0, 256, (40, 40), dtype=np.uint8)
        Image.fromarray(pixels, "L").save(folder / f"img{i:02d}.png")
    # A tie: the same pixels under two names sort by path.
    (folder / "twin_b.png").write_bytes((folder / "img03.png").read_bytes())
    (folder / "twin_a.png").write_bytes((folder / "img03.png").read_bytes())
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    return {"root": root, "weights": root / "dead.safetensors", "folder": folder}


def _net(files: dict[str, Path]) -> Strange:
    net = Strange()
    net.load_state_dict(load_file(files["weights"]))
    return net.eval()


def _images(folder: Path) -> dict[str, torch.Tensor]:
    """Each PNG as the model's input, preprocessed by hand: pixels / 255, then (x - 0.5) / 0.25."""
    out = {}
    for path in sorted(folder.glob("*.png")):
        pixels = np.asarray(Image.open(path), dtype=np.float32) / 255.0
        out[path.name] = (torch.from_numpy(pixels)[None, None] - 0.5) / 0.25
    return out


def _outputs(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every submodule's output on x, with plain forward hooks."""
    seen: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(lambda _m, _a, out, name=name: seen.__setitem__(name, out.detach()))
        for name, module in net.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def _run(*args: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(list(args))
    finally:
        os.chdir(old)
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------------------ top-images


@pytest.fixture(scope="module")
def top_out(files: dict[str, Path]) -> Path:
    """The pinned command line itself, in a fresh interpreter."""
    out = files["root"] / "top"
    paths = [str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")]  # this checkout's cnnviz
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = ["top-images", str(files["folder"]), *MODEL, "--weights", str(files["weights"])]
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", *command, "--layer", "unit.a", "--k", "4", "--out", str(out)],
        cwd=files["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "not an image: 1" in done.stderr  # the skipped text file is counted
    return out


def test_top_images_json_matches_plain_hooks(files: dict[str, Path], top_out: Path) -> None:
    got = json.loads((top_out / "top_images.json").read_text(encoding="utf-8"))
    net = _net(files)
    scores: dict[str, np.ndarray] = {
        name: _outputs(net, x)["unit.a"][0].flatten(1).amax(dim=1).double().numpy()
        for name, x in _images(files["folder"]).items()
    }
    channels = net.unit.a.out_channels
    assert sorted(got, key=int) == [str(c) for c in range(channels)]
    for c in range(channels):
        expected = sorted(scores, key=lambda name: (-scores[name][c], name))[:4]
        assert [e["image"] for e in got[str(c)]] == expected, c
        np.testing.assert_allclose(
            [e["score"] for e in got[str(c)]], [scores[n][c] for n in expected], rtol=1e-5
        )


def test_top_images_ties_are_broken_by_path(files: dict[str, Path], top_out: Path) -> None:
    got = json.loads((top_out / "top_images.json").read_text(encoding="utf-8"))
    found = 0
    for entries in got.values():
        names = [e["image"] for e in entries]
        if "twin_a.png" in names and "twin_b.png" in names:
            assert names.index("twin_a.png") < names.index("twin_b.png")
            a, b = (entries[names.index(n)]["score"] for n in ("twin_a.png", "twin_b.png"))
            assert a == b
            found += 1
    assert found  # the twins are some channel's top images together


def test_a_contact_sheet_per_channel(files: dict[str, Path], top_out: Path) -> None:
    sheets = sorted((top_out / "channels").glob("*.png"), key=lambda p: int(p.stem))
    assert [p.stem for p in sheets] == [str(c) for c in range(_net(files).unit.a.out_channels)]
    for path in sheets:
        with Image.open(path) as sheet:
            assert sheet.width == 4 * (96 + 4) and sheet.height > 96
            assert np.asarray(sheet.convert("L")).std() > 0  # crops, not a blank page


def test_top_images_rejects_a_bad_k(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["top-images", str(files["folder"]), *MODEL, "--layer", "stem", "--k", "0"]
    code, err = _run(*args, "--out", str(files["root"] / "k0"), cwd=files["root"], capsys=capsys)
    assert code == 2 and "--k must be at least 1" in err


# ------------------------------------------------------------------------------------------ health


@pytest.fixture(scope="module")
def health_out(files: dict[str, Path]) -> Path:
    out = files["root"] / "health"
    old = os.getcwd()
    os.chdir(files["root"])
    try:
        code = main(
            ["health", str(files["folder"]), *MODEL, "--weights", str(files["weights"]), "--out", str(out)]
        )
    finally:
        os.chdir(old)
    assert code == 0
    return out


def test_health_csv_against_plain_hooks(files: dict[str, Path], health_out: Path) -> None:
    with (health_out / "health.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames is not None
        for column in ("layer", "channels", "dead", "dead_fraction", "mean", "std", "zero_fraction"):
            assert column in reader.fieldnames
        rows = {row["layer"]: row for row in reader}
    net = _net(files)
    per_image = [_outputs(net, x) for x in _images(files["folder"]).values()]
    names = [n for n, out in per_image[0].items() if out.dim() >= 2 and out.shape[1] > 0]
    assert sorted(rows) == sorted(names)
    for name in names:
        # (N, C, ...) -> (C, all values over images and positions)
        values = torch.cat([o[name].transpose(0, 1).reshape(o[name].shape[1], -1) for o in per_image], 1)
        values = values.double()
        row = rows[name]
        assert int(row["channels"]) == values.shape[0], name
        dead = int((values.amax(dim=1) <= 0).sum())
        assert int(row["dead"]) == dead, name
        assert float(row["dead_fraction"]) == pytest.approx(dead / values.shape[0]), name
        assert float(row["mean"]) == pytest.approx(float(values.mean()), rel=1e-4, abs=1e-6), name
        assert float(row["std"]) == pytest.approx(float(values.std(unbiased=False)), rel=1e-4), name
        assert float(row["zero_fraction"]) == pytest.approx(float((values == 0).double().mean())), name
    assert int(rows["stem"]["dead"]) == len(DEAD)  # the forced ones, and no others in the stem


def test_health_html_has_histograms(health_out: Path) -> None:
    text = (health_out / "health.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text
    assert text.count("<svg") >= 5 and "stem" in text
    assert "http://" not in text and "https://" not in text  # self-contained


def test_health_report_in_korean(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = files["root"] / "health_ko"
    code, err = _run(
        "health",
        str(files["folder"]),
        *MODEL,
        "--lang",
        "ko",
        "--out",
        str(out),
        cwd=files["root"],
        capsys=capsys,
    )
    assert code == 0, err
    text = (out / "health.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in text and "층 상태" in text


# ------------------------------------------------------------------------------------------ errors


def _bad_zip(root: Path, name: str, members: dict[str, bytes]) -> Path:
    path = root / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


@pytest.mark.parametrize(
    ("command", "case", "words"),
    [
        (command, case, words)
        for command in ("top-images", "health")
        for case, words in (
            ("missing", "no such folder or zip"),
            ("empty_zip", "no files"),
            ("unusable_zip", "Nothing in"),
            ("unknown_layer", "did you mean"),
        )
        if not (command == "health" and case == "unknown_layer")  # health takes no layer
    ],
)
def test_errors_are_one_sentence_and_exit_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], command: str, case: str, words: str
) -> None:
    root = files["root"]
    folder = {
        "missing": str(root / "nowhere"),
        "empty_zip": str(_bad_zip(root, "empty.zip", {})),
        "unusable_zip": str(_bad_zip(root, "text.zip", {"a.txt": b"hello", "b/c.csv": b"1,2"})),
        "unknown_layer": str(files["folder"]),
    }[case]
    layer = ["--layer", "unit.aa" if case == "unknown_layer" else "stem"] if command == "top-images" else []
    code, err = _run(
        command, folder, *MODEL, *layer, "--out", str(root / f"err_{case}"), cwd=root, capsys=capsys
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"python -m cnnviz {command}: ") and words in lines[0], lines[0]
    assert "Traceback" not in err
    if case == "unknown_layer":
        assert "unit.a" in lines[0]
    assert not (root / f"err_{case}").exists()  # nothing written
