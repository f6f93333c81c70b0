"""`python -m cnnviz explain|serve`: the pinned command lines, checked against the model run by hand."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from usermodels.strange import Strange

from cnnviz import models
from cnnviz.cli import main

TESTS = Path(__file__).resolve().parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "cnnviz", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def strange_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A seeded Strange saved to safetensors, and a 40 × 40 grey picture."""
    root = tmp_path_factory.mktemp("strange")
    torch.manual_seed(11)
    net = Strange().eval()
    save_file(net.state_dict(), root / "strange.safetensors")
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(root / "picture.png")
    (root / "labels.txt").write_text("\n".join(f"kind {k}" for k in range(7)) + "\n", encoding="utf-8")
    return {"root": root, "weights": root / "strange.safetensors", "image": root / "picture.png"}


@pytest.fixture(scope="module")
def explained(strange_files: dict[str, Path]) -> Path:
    out = strange_files["root"] / "out"
    done = _cli(
        "explain",
        str(strange_files["image"]),
        "--model",
        "usermodels.strange:build",
        "--weights",
        str(strange_files["weights"]),
        "--labels",
        "labels.txt",
        "--input-size",
        "40",
        "--mean",
        "0.5",
        "--std",
        "0.25",
        "--lang",
        "ko",
        "--out",
        str(out),
        cwd=strange_files["root"],
    )
    assert done.returncode == 0, done.stderr
    return out


def _reference(strange_files: dict[str, Path]) -> tuple[Strange, torch.Tensor]:
    from safetensors.torch import load_file

    net = Strange()
    net.load_state_dict(load_file(strange_files["weights"]))
    net.eval()
    pixels = np.asarray(Image.open(strange_files["image"]), dtype=np.float32) / 255.0
    x = (torch.from_numpy(pixels)[None, None] - 0.5) / 0.25
    return net, x


def test_summary_csv_against_numel_and_plain_hooks(explained: Path, strange_files: dict[str, Path]) -> None:
    net, x = _reference(strange_files)
    shapes: dict[str, list[int]] = {}
    modules = dict(net.named_modules())

    def record(name: str):  # type: ignore[no-untyped-def]
        def hook(_m: torch.nn.Module, _a: object, out: torch.Tensor) -> None:
            shapes.setdefault(name, list(out.shape))  # the first call, as summary.csv gives it

        return hook

    handles = [
        m.register_forward_hook(record(name))
        for name, m in modules.items()
        if name and next(m.children(), None) is None
    ]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    with (explained / "summary.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {"layer", "kind", "output_shape", "params", "macs", "receptive_field"} <= set(rows[0])
    assert [r["layer"] for r in rows] == list(shapes)  # every leaf module, in the order they ran
    for row in rows:
        module = modules[row["layer"]]
        assert int(row["params"]) == sum(p.numel() for p in module.parameters(recurse=False)), row
        assert json.loads(row["output_shape"]) == shapes[row["layer"]], row
        assert row["kind"] == type(module).__name__
    conv = next(r for r in rows if r["layer"] == "stem")
    assert json.loads(conv["receptive_field"]) == [3, 3] and int(conv["macs"]) == 8 * 20 * 20 * 9


def test_prediction_json_is_the_models_own_softmax(explained: Path, strange_files: dict[str, Path]) -> None:
    net, x = _reference(strange_files)
    with torch.no_grad():
        probs = torch.softmax(net(x), dim=1)[0]
    values, indices = probs.topk(5)
    top = json.loads((explained / "prediction.json").read_text(encoding="utf-8"))["top"]
    assert [t["index"] for t in top] == indices.tolist()
    assert [t["class"] for t in top] == [f"kind {i}" for i in indices.tolist()]
    np.testing.assert_allclose([t["probability"] for t in top], values.numpy(), rtol=1e-5)


def test_images_and_report(explained: Path) -> None:
    maps = sorted(p.name for p in (explained / "feature_maps").iterdir())
    assert maps and all(name.endswith(".png") for name in maps)
    for path in [explained / "gradcam.png", *(explained / "feature_maps").iterdir()]:
        with Image.open(path) as im:
            assert im.format == "PNG" and min(im.size) > 0
    report = (explained / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in report and "usermodels.strange:build" in report
    assert report.count("data:image/png;base64,") == 2 + len(maps)  # input, Grad-CAM, every grid
    assert "특징 맵" in report and 'src="http' not in report  # Korean, and nothing fetched from outside


def test_layers_and_target(strange_files: dict[str, Path], tmp_path: Path) -> None:
    root = strange_files["root"]
    code = main(
        [
            "explain",
            str(strange_files["image"]),
            "--model",
            "usermodels.strange:build",
            "--weights",
            str(strange_files["weights"]),
            "--layers",
            "unit.gate,stem",
            "--target",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0, root
    assert sorted(p.name for p in (tmp_path / "feature_maps").iterdir()) == ["stem.png", "unit.gate.png"]
    assert "class 3" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_zoo_model_by_name(tmp_path: Path) -> None:
    image = tmp_path / "seven.png"
    from cnnviz import images

    images.load_sample("digit-7").save(image)
    assert main(["explain", str(image), "--model", "lenet5", "--out", str(tmp_path / "out")]) == 0
    top = json.loads((tmp_path / "out" / "prediction.json").read_text())["top"]
    lenet = models.load("lenet5")
    with torch.no_grad():
        probs = torch.softmax(lenet.model(lenet.preprocess(images.load_sample("digit-7"))), 1)[0]
    assert top[0]["class"] == "7" and top[0]["probability"] == pytest.approx(float(probs.max()), rel=1e-5)


BAD = [
    (
        ["explain", "picture.png", "--model", "usermodels.strange:build", "--layers", "unit.bb"],
        "did you mean",
    ),
    (["explain", "missing.png", "--model", "usermodels.strange:build"], "missing.png"),
    (["explain", "labels.txt", "--model", "usermodels.strange:build"], "labels.txt"),
    (["explain", "picture.png", "--model", "no_such_package.mod:build"], "no_such_package"),
    (["explain", "picture.png", "--model", "usermodels.strange:not_a_module"], "not a torch nn.Module"),
    (["explain", "picture.png", "--model", "usermodels.strange:nothing"], "no attribute 'nothing'"),
    (["explain", "picture.png", "--model", "not-a-zoo-model"], "neither a zoo name"),
    (["explain", "picture.png", "--model", "usermodels.strange:build", "--target", "9"], "classes 0..6"),
    (["explain", "picture.png", "--model", "usermodels.strange:build", "--mean", "1", "2"], "mean needs"),
]


@pytest.mark.parametrize(("args", "words"), BAD, ids=[words for _, words in BAD])
def test_bad_input_is_one_sentence_and_exit_2(
    args: list[str], words: str, strange_files: dict[str, Path], tmp_path: Path
) -> None:
    done = _cli(*args, "--input-size", "40", "--out", str(tmp_path), cwd=strange_files["root"])
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_weights_that_do_not_fit(strange_files: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.safetensors"
    torch.manual_seed(0)
    save_file(Strange(classes=5).state_dict(), other)
    done = _cli(
        "explain",
        str(strange_files["image"]),
        "--model",
        "usermodels.strange:build",
        "--weights",
        str(other),
        "--input-size",
        "40",
        "--out",
        str(tmp_path / "out"),
        cwd=strange_files["root"],
    )
    assert done.returncode == 2
    assert "head.weight" in done.stderr and "other.safetensors" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_pickle_that_would_run_code_is_refused(strange_files: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(_evil_pickle(marker))
    done = _cli(
        "explain",
        str(strange_files["image"]),
        "--model",
        "usermodels.strange:build",
        "--weights",
        str(evil),
        "--input-size",
        "40",
        "--out",
        str(tmp_path / "out"),
        cwd=strange_files["root"],
    )
    assert done.returncode == 2 and "evil.pt" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()


def _evil_pickle(marker: Path) -> bytes:
    import io

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    torch.save({"weight": Payload()}, buffer)
    return buffer.getvalue()


# --- serve ------------------------------------------------------------------------------------------------


def test_serve_splits_models_and_streamlit_options(strange_files: dict[str, Path]) -> None:
    from cnnviz.cli.serve import split_argv

    groups, rest = split_argv(
        [
            "--server.port",
            "8600",
            "--model",
            "usermodels.strange:build",
            "--name",
            "mine",
            "--input-size",
            "40",
            "--model",
            "lenet5",
            "--server.headless",
            "true",
        ]
    )
    assert [(g.spec, g.name, g.input_size) for g in groups] == [
        ("usermodels.strange:build", "mine", 40),
        ("lenet5", None, None),
    ]
    assert rest == ["--server.port", "8600", "--server.headless", "true"]


def test_serve_errors_are_sentences(strange_files: dict[str, Path]) -> None:
    done = _cli("serve", "--server.port", "8601", cwd=strange_files["root"])
    assert done.returncode == 2 and "at least one --model" in done.stderr
    done = _cli("serve", "--model", "usermodels.strange:not_a_module", cwd=strange_files["root"])
    assert done.returncode == 2 and "not a torch nn.Module" in done.stderr and "Traceback" not in done.stderr


def test_serve_offers_the_models_first(
    strange_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cnnviz.cli.serve import prepare
    from cnnviz.models import user

    monkeypatch.setattr(user, "_USER", {})
    monkeypatch.syspath_prepend(str(TESTS))
    loaded, rest = prepare(
        [
            "--model",
            "usermodels.strange:build",
            "--weights",
            str(strange_files["weights"]),
            "--input-size",
            "40",
            "--name",
            "strange",
            "--model",
            "lenet5",
        ]
    )
    assert rest == [] and [m.spec.name for m in models.user_models()] == ["strange", "lenet5"]
    assert all(m.spec.source == "user" for m in loaded)
    assert loaded[1].categories == [str(d) for d in range(10)]  # a zoo model keeps its names
