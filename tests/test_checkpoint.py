"""Checkpoints are data, never code: real payloads refused, state dicts fitted to a model, labels read.

References: torch's own ``load_state_dict(strict=True)`` and forward pass, ``nn.DataParallel`` and
``torch.compile`` for real wrapper prefixes, and plain ``torch.load(weights_only=False)`` to prove that a
payload works.
"""

from __future__ import annotations

import io
import json
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from safetensors.torch import save as save_safetensors
from torch import nn

from cnnviz.models.checkpoint import (
    ERROR_KEYS,
    CheckpointError,
    LoadReport,
    fit_state_dict,
    read_labels,
    read_state_dict,
)
from cnnviz.ui.text import TEXT, tr


def _torch_bytes(obj: object, *, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def _refused(call: Callable[[], object], key: str, name: str) -> CheckpointError:
    """The CheckpointError `call` raises: its key, the file's name in it, and the table's sentence for it."""
    with pytest.raises(CheckpointError) as caught:
        call()
    err = caught.value
    assert err.key == key, str(err)
    assert f"“{name}”" in str(err)
    # The English in the text table is the error's own sentence; the Korean takes the same params.
    assert tr(f"ckpterr.{key}", "en", **err.params) == str(err)
    assert name in tr(f"ckpterr.{key}", "ko", **err.params)
    return err


class TinyNet(nn.Module):
    """Pickled whole by a test (a class at module level, as a person's own model would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


class WritesAFile:
    """A pickle payload: unpickling it calls ``open(path, "w")``, which creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


class RunsCode:
    """A pickle payload: unpickling it calls ``exec`` on source that creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.path)!r}, 'w').close()",))


@pytest.fixture(scope="module")
def resnet10() -> nn.Module:
    """A torchvision ResNet-18 with a 10-class head, seeded, untrained."""
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


# ------------------------------------------------------------------------------------------------- safety


@pytest.mark.parametrize("payload", [WritesAFile, RunsCode])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_payload_is_refused_and_never_runs(
    tmp_path: Path, payload: type, legacy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    data = _torch_bytes({"weight": torch.ones(2), "evil": payload(marker)}, legacy=legacy)
    checkpoint = tmp_path / "evil.pt"
    checkpoint.write_bytes(data)
    calls: list[dict[str, Any]] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    err = _refused(lambda: read_state_dict(data, name="evil.pt"), "objects", "evil.pt")
    assert err.params["cls"] in ("io.open", "builtins.open", "builtins.exec")
    assert "model.state_dict()" in str(err)
    _refused(lambda: read_state_dict(checkpoint), "objects", str(checkpoint))
    assert calls and all(c.get("weights_only") is True for c in calls)
    assert not marker.exists()
    # The payload is real: a plain unpickler runs it and the file appears.
    real_load(io.BytesIO(data), weights_only=False)
    assert marker.exists()


def test_a_payload_at_the_top_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    data = _torch_bytes(WritesAFile(marker))
    _refused(lambda: read_state_dict(data, name="top.pth"), "objects", "top.pth")
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_whole_pickled_model_is_refused_with_the_state_dict_advice(legacy: bool) -> None:
    err = _refused(
        lambda: read_state_dict(_torch_bytes(TinyNet(), legacy=legacy), name="net.pt"),
        "whole_model",
        "net.pt",
    )
    assert err.params["cls"] == f"{TinyNet.__module__}.TinyNet"
    assert "torch.save(model.state_dict()" in str(err)
    assert "safetensors.torch.save_file(model.state_dict()" in str(err)
    nested = _torch_bytes({"epoch": 3, "model": torchvision.models.resnet18(num_classes=2)})
    err = _refused(lambda: read_state_dict(nested, name="run.ckpt"), "whole_model", "run.ckpt")
    assert err.params["cls"] == "torchvision.models.resnet.ResNet"
    torch_only = _torch_bytes(nn.Sequential(nn.Conv2d(1, 2, 3)))  # every class a torch one: still a model
    _refused(lambda: read_state_dict(torch_only, name="seq.pt"), "whole_model", "seq.pt")


# --------------------------------------------------------------------------------------------- reading


def _assert_same_tensors(
    got: dict[str, torch.Tensor], want: dict[str, torch.Tensor], *, ordered: bool = True
) -> None:
    assert (list(got) == list(want)) if ordered else (sorted(got) == sorted(want))
    for key, value in want.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


@pytest.mark.parametrize("fmt", ["pt", "legacy", "safetensors"])
def test_resnet18_with_ten_classes_loads_strictly_into_a_1000_class_resnet(
    resnet10: nn.Module, fmt: str, tmp_path: Path
) -> None:
    state = resnet10.state_dict()
    data = save_safetensors(state) if fmt == "safetensors" else _torch_bytes(state, legacy=fmt == "legacy")
    path = tmp_path / f"resnet18-10.{'safetensors' if fmt == 'safetensors' else 'pt'}"
    path.write_bytes(data)
    read = read_state_dict(path)
    ordered = fmt != "safetensors"  # a safetensors header keeps no order
    _assert_same_tensors(read, state, ordered=ordered)
    _assert_same_tensors(read_state_dict(data), state, ordered=ordered)

    fresh = torchvision.models.resnet18()
    assert fresh.fc.out_features == 1000
    report = fit_state_dict(fresh, read, resize_head=True, name=path.name)
    assert report == LoadReport(
        stripped="", ignored=(), head="fc", old_classes=1000, new_classes=10, loaded=len(state)
    )
    assert isinstance(fresh.fc, nn.Linear) and fresh.fc.out_features == 10
    _assert_same_tensors(fresh.state_dict(), state)
    fresh.load_state_dict(state, strict=True)  # torch agrees it fits strictly
    fresh.eval()
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(fresh(image), resnet10(image), rtol=0, atol=0)


def test_lightning_checkpoint_with_model_prefix_loads(resnet10: nn.Module) -> None:
    state = resnet10.state_dict()
    optimizer = torch.optim.SGD(resnet10.parameters(), lr=0.1, momentum=0.9)
    checkpoint = {
        "epoch": 4,
        "global_step": 1200,
        "pytorch-lightning_version": "2.5.0",
        "state_dict": {"model." + k: v for k, v in state.items()} | {"criterion.weight": torch.ones(10)},
        "optimizer_states": [optimizer.state_dict()],
        "lr_schedulers": [],
    }
    read = read_state_dict(_torch_bytes(checkpoint), name="epoch=4.ckpt")
    assert set(read) == set(checkpoint["state_dict"])
    fresh = torchvision.models.resnet18(num_classes=10)
    report = fit_state_dict(fresh, read, name="epoch=4.ckpt")
    assert report.stripped == "model."
    assert report.ignored == ("criterion.weight",)  # the Lightning module's loss weight, not the model's
    assert report.head is None and report.loaded == len(state)
    _assert_same_tensors(fresh.state_dict(), state)


@pytest.mark.parametrize("nest", ["state_dict", "model_state_dict", "model"])
def test_state_dict_nested_under_a_training_key(nest: str) -> None:
    net = TinyNet()
    checkpoint = {"epoch": 7, nest: net.state_dict(), "loss": 0.25}
    _assert_same_tensors(read_state_dict(_torch_bytes(checkpoint)), net.state_dict())


def test_dataparallel_and_compiled_prefixes_are_stripped(resnet10: nn.Module) -> None:
    state = resnet10.state_dict()
    parallel = nn.DataParallel(resnet10).state_dict()
    assert all(k.startswith("module.") for k in parallel)
    fresh = torchvision.models.resnet18(num_classes=10)
    assert fit_state_dict(fresh, read_state_dict(_torch_bytes(parallel))).stripped == "module."
    _assert_same_tensors(fresh.state_dict(), state)

    compiled = torch.compile(nn.DataParallel(TinyNet())).state_dict()  # compiling waits for the first call
    assert next(iter(compiled)).startswith("_orig_mod.module.")
    tiny = TinyNet()
    report = fit_state_dict(tiny, read_state_dict(save_safetensors(compiled)))
    assert report.stripped == "_orig_mod.module." and report.loaded == len(tiny.state_dict())


def test_a_model_with_a_child_named_model_keeps_its_keys() -> None:
    wrapper = nn.Sequential()
    wrapper.add_module("model", TinyNet())
    fresh = nn.Sequential()
    fresh.add_module("model", TinyNet())
    report = fit_state_dict(fresh, wrapper.state_dict())
    assert report.stripped == "" and report.loaded == len(wrapper.state_dict())
    _assert_same_tensors(fresh.state_dict(), wrapper.state_dict())


def test_a_one_by_one_conv_head_is_resized() -> None:
    torch.manual_seed(0)
    squeeze7 = torchvision.models.squeezenet1_1(num_classes=7)
    fresh = torchvision.models.squeezenet1_1()
    report = fit_state_dict(fresh, squeeze7.state_dict(), resize_head=True)
    assert (report.head, report.old_classes, report.new_classes) == ("classifier.1", 1000, 7)
    head = fresh.classifier[1]
    assert isinstance(head, nn.Conv2d) and head.out_channels == 7 and head.kernel_size == (1, 1)
    _assert_same_tensors(fresh.state_dict(), squeeze7.state_dict())


# ------------------------------------------------------------------------------------------ bad weights


def test_missing_unexpected_and_misshaped_keys_are_named(resnet10: nn.Module) -> None:
    state = dict(resnet10.state_dict())
    del state["layer1.0.conv1.weight"], state["layer2.1.bn2.bias"]
    state["extra.weight"] = torch.ones(3)
    state["conv1.weight"] = torch.ones(64, 1, 7, 7)
    target = torchvision.models.resnet18(num_classes=10)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    err = _refused(lambda: fit_state_dict(target, state, name="mine.pt"), "mismatch", "mine.pt")
    sentence = str(err)
    assert "2 missing (layer1.0.conv1.weight, layer2.1.bn2.bias)" in sentence
    assert "1 unexpected (extra.weight)" in sentence
    assert "conv1.weight (64, 1, 7, 7) ≠ (64, 3, 7, 7)" in sentence
    assert "ResNet" in sentence
    _assert_same_tensors(target.state_dict(), before)  # nothing was loaded


def test_long_lists_are_cut_with_a_count(resnet10: nn.Module) -> None:
    state = {k: v for k, v in resnet10.state_dict().items() if not k.startswith("layer4.")}
    missing = [k for k in resnet10.state_dict() if k.startswith("layer4.") and "num_batches" not in k]
    err = _refused(
        lambda: fit_state_dict(torchvision.models.resnet18(num_classes=10), state), "mismatch", "upload"
    )
    assert err.params["n_missing"] == len(missing)
    assert err.params["missing"] == ", ".join(missing[:5]) + f" and {len(missing) - 5} more"


def test_a_different_head_without_resize_is_named_and_with_resize_the_model_is_kept_on_failure(
    resnet10: nn.Module,
) -> None:
    target = torchvision.models.resnet18()
    err = _refused(lambda: fit_state_dict(target, resnet10.state_dict()), "mismatch", "upload")
    assert "fc.weight (10, 512) ≠ (1000, 512)" in str(err) and "fc.bias (10) ≠ (1000)" in str(err)
    broken = dict(resnet10.state_dict())
    del broken["bn1.weight"]
    err = _refused(lambda: fit_state_dict(target, broken, resize_head=True), "mismatch", "upload")
    assert "1 missing (bn1.weight)" in str(err) and "0 shaped differently" in str(err)
    assert target.fc.out_features == 1000  # the head is replaced only when everything fits


def test_another_architecture_matches_no_key(resnet10: nn.Module) -> None:
    err = _refused(
        lambda: fit_state_dict(torchvision.models.squeezenet1_1(), resnet10.state_dict(), name="r.pt"),
        "no_match",
        "r.pt",
    )
    assert err.params["count"] == len(resnet10.state_dict())
    assert "conv1.weight" in str(err) and "features.0.weight" in str(err)


class RefusesToLoad(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("this module cannot be loaded. More detail here")


def test_a_failure_inside_torch_is_a_sentence_and_the_head_is_put_back() -> None:
    model = nn.Sequential(RefusesToLoad(), nn.Linear(4, 3))
    source = nn.Sequential(RefusesToLoad(), nn.Linear(4, 5))
    original_head = model[1]
    err = _refused(
        lambda: fit_state_dict(model, source.state_dict(), resize_head=True, name="w.pt"),
        "load_failed",
        "w.pt",
    )
    assert err.params["reason"] == "this module cannot be loaded"
    assert model[1] is original_head


def test_fit_rejects_what_is_not_a_model_or_a_state_dict() -> None:
    with pytest.raises(TypeError, match="model must be"):
        fit_state_dict({}, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state must map"):
        fit_state_dict(TinyNet(), {"fc.weight": [1.0]})  # type: ignore[dict-item]


def test_corrupt_empty_and_not_a_checkpoint(tmp_path: Path, resnet10: nn.Module) -> None:
    _refused(lambda: read_state_dict(b"", name="e.pt"), "empty", "e.pt")
    (tmp_path / "e.pt").write_bytes(b"")
    _refused(lambda: read_state_dict(tmp_path / "e.pt"), "empty", str(tmp_path / "e.pt"))
    _refused(lambda: read_state_dict(b"just some text\n", name="notes.txt"), "not_checkpoint", "notes.txt")
    _refused(lambda: read_state_dict(bytes(range(256)) * 4, name="r.bin"), "not_checkpoint", "r.bin")
    whole = _torch_bytes(resnet10.state_dict())
    _refused(lambda: read_state_dict(whole[: len(whole) // 3], name="cut.pt"), "damaged", "cut.pt")
    legacy = _torch_bytes(resnet10.state_dict(), legacy=True)
    _refused(lambda: read_state_dict(legacy[:3000], name="cut.pth"), "damaged", "cut.pth")
    _refused(lambda: read_state_dict(b"PK\x03\x04" + b"\x00" * 60, name="z.pt"), "damaged", "z.pt")


def test_a_safetensors_file_with_a_bad_header(resnet10: nn.Module) -> None:
    bad_json = (16).to_bytes(8, "little") + b"{not json at all" + b"\x00" * 32
    _refused(lambda: read_state_dict(bad_json, name="w.safetensors"), "bad_safetensors", "w.safetensors")
    _refused(lambda: read_state_dict(b"\xff" * 64, name="w.safetensors"), "bad_safetensors", "w.safetensors")
    good = save_safetensors({"w": torch.ones(4, 4)})
    _refused(lambda: read_state_dict(good[:-8], name="cut.safetensors"), "bad_safetensors", "cut.safetensors")
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 999]}}).encode()
    lying = len(header).to_bytes(8, "little") + header + b"\x00" * 16
    _refused(lambda: read_state_dict(lying), "bad_safetensors", "upload")


def test_no_state_dict_inside() -> None:
    err = _refused(
        lambda: read_state_dict(_torch_bytes({"epoch": 1, "net": "x"}), name="m.pt"), "no_tensors", "m.pt"
    )
    assert err.params["keys"] == "epoch, net"
    _refused(lambda: read_state_dict(_torch_bytes(torch.ones(3)), name="t.pt"), "not_state_dict", "t.pt")
    _refused(lambda: read_state_dict(_torch_bytes([torch.ones(3)]), name="l.pt"), "not_state_dict", "l.pt")
    _refused(
        lambda: read_state_dict(save_safetensors({}), name="e.safetensors"), "no_tensors", "e.safetensors"
    )


def test_size_limit_and_paths(tmp_path: Path) -> None:
    data = _torch_bytes({"w": torch.zeros(1000)})
    err = _refused(lambda: read_state_dict(data, name="big.pt", max_bytes=1000), "too_large", "big.pt")
    assert err.params["limit_mb"] == 1000 / 2**20
    path = tmp_path / "big.pt"
    path.write_bytes(data)
    _refused(lambda: read_state_dict(path, max_bytes=1000), "too_large", str(path))
    assert set(read_state_dict(path, max_bytes=len(data))) == {"w"}
    _refused(lambda: read_state_dict(tmp_path / "nope.pt"), "not_found", str(tmp_path / "nope.pt"))
    err = _refused(lambda: read_state_dict(tmp_path), "unreadable", str(tmp_path))
    assert err.params["reason"] == "it is a folder"
    with pytest.raises(TypeError, match="source must be"):
        read_state_dict(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_bytes"):
        read_state_dict(data, max_bytes=0)


def test_an_error_survives_pickling() -> None:
    import pickle

    err = CheckpointError("x", key="empty", params={"name": "a"})
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.key, copy.params) == ("x", "empty", {"name": "a"})
    with pytest.raises(ValueError, match="key must be"):
        CheckpointError("x", key="nonsense")


# ----------------------------------------------------------------------------------------------- labels


def test_labels_from_text(tmp_path: Path) -> None:
    text = "\ufeffcat\r\n  dog  \n\n\ttabby cat\n   \nhot dog\n"
    assert read_labels(text.encode()) == ["cat", "dog", "tabby cat", "hot dog"]
    path = tmp_path / "labels.txt"
    path.write_text("가\n나\n", encoding="utf-8")
    assert read_labels(path) == ["가", "나"]
    assert read_labels(str(path)) == ["가", "나"]


def test_labels_from_json(tmp_path: Path) -> None:
    names = [f"class {i}" for i in range(10)]
    assert read_labels(json.dumps(names).encode()) == names
    path = tmp_path / "labels.json"
    path.write_text(json.dumps([" a ", "b"]))
    assert read_labels(path) == ["a", "b"]


def test_bad_labels() -> None:
    _refused(lambda: read_labels(b"", name="l.txt"), "labels_empty", "l.txt")
    _refused(lambda: read_labels(b"\n  \n", name="l.txt"), "labels_empty", "l.txt")
    _refused(lambda: read_labels(b"[]", name="l.json"), "labels_empty", "l.json")
    err = _refused(lambda: read_labels(b'{"0": "cat"}', name="l.json"), "labels_json_type", "l.json")
    assert err.params["found"] == "object"
    err = _refused(lambda: read_labels(b'["cat", 3]', name="l.json"), "labels_item", "l.json")
    assert (err.params["index"], err.params["found"]) == (1, "number")
    err = _refused(lambda: read_labels(b'["cat", " "]', name="l.json"), "labels_item", "l.json")
    assert err.params["found"] == "empty string"
    _refused(lambda: read_labels(b'["cat", "dog"', name="l.json"), "labels_bad_json", "l.json")
    _refused(lambda: read_labels(b"\xff\xfe\x00c", name="l.txt"), "labels_not_text", "l.txt")
    big = ("x" * 99 + "\n").encode() * 50
    err = _refused(lambda: read_labels(big, name="l.txt", max_bytes=1000), "labels_too_large", "l.txt")
    assert err.params["size_mb"] == len(big) / 2**20


# ------------------------------------------------------------------------------------------------ texts


def test_every_error_key_has_a_sentence_in_both_languages() -> None:
    for key in ERROR_KEYS:
        en, ko = TEXT[f"ckpterr.{key}"]
        fields = {f for _, f, _, _ in string.Formatter().parse(en) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(ko) if f}, key
        assert "name" in fields, key
    assert {k for k in TEXT if k.startswith("ckpterr.")} == {f"ckpterr.{k}" for k in ERROR_KEYS}
