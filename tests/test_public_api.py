"""The public API is what the README says, however it is imported, in a fresh interpreter each time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_python_blocks() -> None:
    assert _readme_python_blocks(), "the README's 'Use it from Python' block is gone"


@pytest.mark.parametrize("index", range(len(_readme_python_blocks())))
def test_readme_python_block_runs_verbatim(index: int) -> None:
    block = _readme_python_blocks()[index]
    done = _run(block + "\nprint('README BLOCK DONE')\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "README BLOCK DONE" in done.stdout


@pytest.mark.parametrize("name", cnnviz.__all__)
def test_every_public_name_is_the_object_however_imported(name: str) -> None:
    where = cnnviz._WHERE[name]
    code = f"""
import importlib, types
import cnnviz
first = cnnviz.{name}
second = cnnviz.{name}
from cnnviz import {name} as imported
# importing every submodule must not rebind the name on the package
for mod in ("cnnviz.hooks", "cnnviz.analysis.summary", "cnnviz.analysis.conv", "cnnviz.images",
            "cnnviz.models", {where!r}):
    importlib.import_module(mod)
third = cnnviz.{name}
expected = getattr(importlib.import_module({where!r}), {name!r})
for got in (first, second, imported, third):
    assert got is expected, (got, expected)
    assert not isinstance(got, types.ModuleType), got
print("same")
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "same"


@pytest.mark.parametrize("name", cnnviz.__all__)
def test_from_import_after_submodules_are_loaded(name: str) -> None:
    """The original bug: a submodule imported first (as the app does) shadowed the function."""
    code = f"""
import types
import cnnviz.models, cnnviz.hooks, cnnviz.analysis.features
from cnnviz import {name}
assert not isinstance({name}, types.ModuleType), {name}
print("ok")
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr[-3000:]


def test_import_cnnviz_does_not_import_torch() -> None:
    done = _run("import sys, cnnviz, cnnviz.images; print('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
