"""Record what every layer of any `nn.Module` produces (and its gradient) inside a `with` block.

    with capture(model, ["layer1.0.bn1", "fc"], gradients=True) as cap:
        logits = model(x)
        cap.backward(logits[0, 3])
    cap.activations["layer1.0.bn1"]   # (N, C, H, W), the output as the module produced it
    cap.gradients["layer1.0.bn1"]     # d logits[0, 3] / d that output

How it stays honest and leaves the model as it found it:

- Forward hooks are registered on entry and removed in `finally`, so none survive the block, also after an
  exception. The model's train/eval flags, every parameter's `requires_grad` and `.grad` (the same tensor
  object, or `None`) are restored on exit.
- Each output is stored as it was produced, copied only when it has to be (copy on write): while the block
  runs, every ATen operator passes through a dispatch mode that reads the operator's schema, and just before
  one writes into a stored tensor's memory (ResNet's `out += identity`, `ReLU(inplace=True)`, a `copy_` or an
  `out=`) the stored tensor is copied. When the block ends, a stored tensor that anyone else can still reach
  (the logits, the input returned by `nn.Identity`, a tensor a module keeps) is copied too, so nothing done
  after the block changes a result; the others (most of them) are the module's own tensor, not a copy. Only
  writes that bypass PyTorch's dispatcher (into `.numpy()` or a raw pointer, inside the block) go unseen.
  Snapshot copies go into storages reused from earlier captures once no result holds them (`empty_pool()`).
  A tensor returned unchanged by several modules (a `Sequential` and its last child, a block and its final
  ReLU) is stored once and shared; the tensor's version counter tells whether it was modified in place in
  between (inference tensors have none: never shared).
- Large CPU allocations get transparent huge pages (torch's `THP_MEM_ALLOC_ENABLE`, set here unless set
  already): storing every output means much fresh memory, and faulting it in 4 KiB pages cost more than the
  forward pass's own arithmetic on ResNet-50. Torch reads the switch once, at its first CPU allocation, so it
  only applies when this module is imported before any tensor exists.
- Gradients never use `register_full_backward_hook` (it breaks on in-place operations) and never touch
  `param.grad`. With `gradients=True` each hook keeps the tensor the module produced (the "tap") and hands a
  clone of it to the rest of the network, so later in-place operations modify the clone, never the tap;
  `cap.backward(scalar)` then calls `torch.autograd.grad(scalar, taps)`: the gradient w.r.t. each output as it
  was produced. The block runs under `torch.enable_grad()`, and when no input requires grad the model's input
  is swapped for a fresh leaf copy that does (the caller's tensor is untouched), so the graph exists even for
  frozen models. `full_graph=False` instead runs everything before the first recorded output without a graph
  and makes that output a leaf tap: the same gradients, without keeping the whole pass for backward
  (Grad-CAM at ResNet-50's last conv: 11 MB of peak memory growth instead of 90 MB, bench/capture.py).
- Tuple, list and dict outputs: `activations[name]` is always a Tensor, the first tensor found depth-first
  (LSTM's `output`, a segmentation model's `"out"`); every other tensor is kept under `name` plus its index
  path, e.g. `"rnn[1][0]"` or `"model[aux]"`.
- Modules called more than once in a forward pass (torchvision's `BasicBlock` calls `relu` twice):
  `activations[name]` is the last call, `calls[name]` lists every call in order (`stat_calls` and
  `gradient_calls` likewise). `order` lists every recorded call of the block in execution order. Run one
  forward pass per block: every call's output is kept until the Capture is dropped.
- `reduce=True` computes per-channel mean/max/min inside the hook and fills `stats` when the block ends;
  with `store=False` nothing else is kept, so summarising every layer of a large network does not keep every
  feature map alive.
- Cached models are shared between Streamlit sessions (threads): `capture()` holds `model_lock(model)`, one
  re-entrant lock per model object, for the whole block.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from cnnviz.locks import model_lock
from cnnviz.tensors import forward

# Importing torch allocates no tensor, so this still counts if no caller made one first; see the docstring.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__all__ = [
    "Call",
    "Capture",
    "ChannelStats",
    "Layer",
    "capture",
    "channel_stats",
    "empty_pool",
    "layer_name",
    "model_lock",
    "run_until",
    "twin",
]

Layer = str | nn.Module
"""A layer named as in `model.named_modules()` (\"layer4.1.conv2\") or given as the module object itself."""

_REDUCE_DIMS = {2: (0,), 3: (0, 2), 4: (0, 2, 3), 5: (0, 2, 3, 4)}


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics of one activation, reduced over the batch and all positions.

    Attributes:
        mean: (C,) mean of each channel.
        max: (C,) largest value of each channel.
        min: (C,) smallest value of each channel.
        shape: Shape of the activation the statistics summarise, e.g. (N, C, H, W).
    """

    mean: np.ndarray
    max: np.ndarray
    min: np.ndarray
    shape: tuple[int, ...]

    @property
    def channels(self) -> int:
        """Number of channels C."""
        return int(self.mean.shape[0])


class Call(NamedTuple):
    """One recorded module call, in execution order (a named tuple: cheap to make in every hook).

    Attributes:
        name: Module name from `model.named_modules()`.
        nth: 0 for the module's first call in this block, 1 for its second, ...
        input_shape: Shape of the first tensor argument, None if the module got no tensor.
        output_shape: Shape of the first output tensor, None if the output holds no tensor.
        source: Position in `Capture.order` of the recorded call that returned the module's first input
            tensor (the same tensor object, possibly modified in place since); None when that tensor came from
            outside the recorded modules: the model's input or a functional operation such as `torch.flatten`.
    """

    name: str
    nth: int
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    source: int | None


class _Entry:
    """What one forward-flowing tensor object was recorded as (shared by modules that return it unchanged)."""

    __slots__ = ("call", "keys", "ref", "stats", "stored", "tap", "version")

    def __init__(
        self,
        ref: weakref.ref[Tensor],
        version: int | None,
        stored: Tensor | None,
        stats: int | None,
        tap: Tensor | None,
        call: int,
    ) -> None:
        self.ref = ref
        self.version = version
        self.stored = stored
        self.stats = stats
        self.tap = tap
        self.call = call
        self.keys: list[str] = []  # where `stored` was filed, so that a snapshot can replace it everywhere


@dataclass(eq=False)
class Capture:
    """What `capture()` recorded; filled while the block runs (stats when it ends), complete after it.

    Attributes:
        layers: The module names that were hooked, in `named_modules()` order.
        activations: Module name -> its output (last call), detached, as it was when the module returned it
            (the module's own tensor when nothing modified it later, else a copy). Extra tensors of
            tuple/dict outputs appear under `name[i]` / `name[key]`.
        calls: Module name -> the outputs of every call, in order.
        stats: Module name -> ChannelStats of the last call (when `reduce=True`; filled when the block ends).
        stat_calls: Module name -> ChannelStats of every call.
        gradients: Module name -> gradient of the scalar given to `backward()` w.r.t. the last call's output.
        gradient_calls: Module name -> gradients for every call.
        order: Every recorded call in execution order.
    """

    layers: tuple[str, ...]
    activations: dict[str, Tensor] = field(default_factory=dict)
    calls: dict[str, list[Tensor]] = field(default_factory=dict)
    stats: dict[str, ChannelStats] = field(default_factory=dict)
    stat_calls: dict[str, list[ChannelStats]] = field(default_factory=dict)
    gradients: dict[str, Tensor] = field(default_factory=dict)
    gradient_calls: dict[str, list[Tensor]] = field(default_factory=dict)
    order: list[Call] = field(default_factory=list)
    _store: bool = True
    _reduce: bool = False
    _gradients: bool = False
    _leaf_taps: bool = False  # full_graph=False: an output without a graph becomes a leaf tap
    _open: bool = False
    _seen: dict[int, _Entry] = field(default_factory=dict, repr=False)
    _call_count: dict[str, int] = field(default_factory=dict, repr=False)
    # (key, tap, tap's version when recorded) for every floating-point output, in recording order.
    _taps: list[tuple[str, Tensor, int | None]] = field(default_factory=list, repr=False)
    # Storage address -> entries whose `stored` is the module's own output, not yet copied (copy on write).
    _shared: dict[int, list[_Entry]] = field(default_factory=dict, repr=False)
    # Reductions made in the hooks, and (key, index into them) in recording order; see `_finish`.
    _reduced: list[_Reduced | ChannelStats] = field(default_factory=list, repr=False)
    _stat_keys: list[tuple[str, int]] = field(default_factory=list, repr=False)

    def backward(self, scalar: Tensor, *, retain_graph: bool = False) -> dict[str, Tensor]:
        """Fills `gradients` with d scalar / d output for every recorded output.

        Uses `torch.autograd.grad`, so no parameter's `.grad` is touched. Outputs the scalar does not depend
        on get zeros. Call it inside the block, after the forward pass; each call replaces `gradients`.

        Args:
            scalar: A one-element tensor computed from the model's output, e.g. `logits[0, k]`.
            retain_graph: Keep the graph for another `backward()` call (e.g. one per class).

        Returns:
            `self.gradients`.
        """
        if not self._gradients:
            raise RuntimeError("backward() needs capture(..., gradients=True)")
        if not self._open:
            raise RuntimeError(
                "backward() must be called inside the capture() block, the graph is gone after it"
            )
        if not isinstance(scalar, Tensor) or scalar.numel() != 1:
            shape = tuple(scalar.shape) if isinstance(scalar, Tensor) else type(scalar).__name__
            raise ValueError(f"scalar must be a one-element tensor, got {shape}")
        if not scalar.requires_grad:
            raise RuntimeError(
                "scalar does not depend on any recorded layer through autograd; was the forward pass run "
                "under torch.no_grad() or torch.inference_mode() inside the block?"
            )
        unique: dict[int, Tensor] = {}
        for key, tap, version in self._taps:
            if not tap.requires_grad:
                continue  # not in the graph (e.g. computed under no_grad inside the module): zero gradient
            if version is not None and tap._version != version:
                raise RuntimeError(
                    f"the output of {key!r} was modified in place after it was produced, so its gradient "
                    "cannot be recovered"
                )
            unique.setdefault(id(tap), tap)
        tensors = list(unique.values())
        grads = (
            torch.autograd.grad(
                scalar.reshape(()),
                tensors,
                allow_unused=True,
                retain_graph=retain_graph,
                materialize_grads=True,
            )
            if tensors
            else ()
        )
        by_id = {id(t): g for t, g in zip(tensors, grads, strict=True)}
        self.gradients = {}
        self.gradient_calls = {}
        for key, tap, _ in self._taps:
            grad = by_id[id(tap)] if id(tap) in by_id else torch.zeros_like(tap)
            self.gradients[key] = grad
            self.gradient_calls.setdefault(key, []).append(grad)
        return self.gradients

    # --- recording (called from the forward hooks) ---------------------------------------------------------

    def _hook(self, name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        """The forward hook of module `name` (bound with functools.partial: no extra Python frame)."""
        nth = self._call_count.get(name, 0)
        self._call_count[name] = nth + 1
        position = len(self.order)

        first_in = args[0] if args and isinstance(args[0], Tensor) else _first_tensor(args)
        source = None
        in_shape = None
        if first_in is not None:
            in_shape = tuple(first_in.shape)
            entry = self._seen.get(id(first_in))
            if entry is not None and entry.ref() is first_in:
                source = entry.call

        if isinstance(output, Tensor):
            self.order.append(Call(name, nth, in_shape, tuple(output.shape), source))
            return self._record_tensor(name, output, args, position)

        leaves = _tensor_leaves(output, "")
        self.order.append(Call(name, nth, in_shape, tuple(leaves[0][1].shape) if leaves else None, source))
        if not leaves:
            return None
        replaced = {}
        for i, (suffix, tensor) in enumerate(leaves):
            handed = self._record_tensor(name if i == 0 else name + suffix, tensor, args, position)
            if handed is not None:
                replaced[suffix] = handed
        return _replace_leaves(output, replaced, "") if replaced else None

    def _record_tensor(self, key: str, t: Tensor, args: tuple[Any, ...], position: int) -> Tensor | None:
        """Records one output tensor; returns the tensor to hand downstream instead of `t` (gradient mode)."""
        # Inference tensors have no version counter, so an in-place change cannot be detected: never share.
        version = None if t.is_inference() else t._version
        entry = self._seen.get(id(t))
        handed = None
        if entry is not None and version is not None and entry.version == version and entry.ref() is t:
            entry.call = position
        elif self._gradients and (
            t.requires_grad or (self._leaf_taps and t.is_floating_point() and not t.is_inference())
        ):
            # The module's own output becomes the tap; downstream gets a clone, so in-place operations later
            # on (ReLU(inplace=True), `out += identity`) cannot alter the tap or what we stored.
            # The tap is stored without a copy unless someone else may hold it: a parameter, or the module's
            # input returned as is or as a view (nn.Identity, nn.Flatten), which the caller still references.
            stored = None
            if self._store:
                stored = t.detach().clone() if t.is_leaf or _shares_memory(t, args) else t.detach()
            stats = self._reduce_later(t) if self._reduce else None
            tap = t
            if not t.requires_grad:
                # full_graph=False: the part before this output ran without a graph; the graph starts here.
                torch._C._set_grad_enabled(True)
                tap = t.detach().requires_grad_(True)
            handed = tap.clone()
            entry = _Entry(weakref.ref(handed), handed._version, stored, stats, tap, position)
            self._seen[id(handed)] = entry
        else:
            stats = self._reduce_later(t) if self._reduce else None
            entry = _Entry(weakref.ref(t), version, None, stats, None, position)
            if self._store:
                # Copy on write: keep the module's own tensor and copy it only if something is about to modify
                # it in place (`_CopyOnWrite`) or may still do so after the block (`_settle`).
                pointer = _whole_storage(t)
                if pointer is None:
                    entry.stored = t.detach().clone()
                else:
                    entry.stored = t.detach()
                    self._shared.setdefault(pointer, []).append(entry)
            self._seen[id(t)] = entry
        if entry.stored is not None:
            entry.keys.append(key)
            self.activations[key] = entry.stored
            self.calls.setdefault(key, []).append(entry.stored)
        if entry.stats is not None:
            self._stat_keys.append((key, entry.stats))
        if self._gradients and t.is_floating_point():
            tap = entry.tap if entry.tap is not None else t
            self._taps.append((key, tap, None if tap.is_inference() else tap._version))
        return handed

    # --- copy on write ------------------------------------------------------------------------------------

    def _reduce_later(self, t: Tensor) -> int:
        """Reduces `t` now (it may change later) and returns its place in `_reduced`."""
        self._reduced.append(_reductions(t))
        return len(self._reduced) - 1

    def _finish(self) -> None:
        """Fills `stats` and `stat_calls` from the reductions made in the hooks."""
        if self._reduced:
            finished = _finish_stats(self._reduced)
            for key, index in self._stat_keys:
                self.stats[key] = finished[index]
                self.stat_calls.setdefault(key, []).append(finished[index])
        self._reduced.clear()
        self._stat_keys.clear()

    def _snapshot(self, pointer: int) -> None:
        """Replaces every stored tensor on storage `pointer` by a copy, before that storage is modified."""
        for entry in self._shared.pop(pointer, ()):
            old = entry.stored
            assert old is not None
            new = _POOL.copy(old)
            entry.stored = new
            for key in entry.keys:
                if self.activations.get(key) is old:
                    self.activations[key] = new
                calls = self.calls[key]
                for i, stored in enumerate(calls):
                    if stored is old:
                        calls[i] = new

    def _settle(self, check: bool) -> None:
        """At the end of the block: copies what someone else still references, checks nothing slipped by.

        A stored tensor the model or the caller can still reach (the logits, the input returned by
        nn.Identity, a tensor a module keeps) could be modified after the block, so it is copied now; one
        only this Capture holds is kept as is. `check` raises if a stored tensor's version counter moved
        although no operator wrote into it through the dispatcher: its stored value would be wrong. (A write
        into `.numpy()` moves no counter either; that is the one change nothing here can see.)
        """
        for pointer, entries in list(self._shared.items()):
            first = entries[0].stored
            assert first is not None
            if check:
                for entry in entries:
                    stored = entry.stored
                    if entry.version is not None and stored is not None and stored._version != entry.version:
                        raise RuntimeError(
                            f"the output of {entry.keys[0]!r} was modified in place during the capture() "
                            "block without passing through PyTorch's dispatcher: its recorded value is lost"
                        )
            mine = len({id(entry.stored) for entry in entries})
            # One reference per distinct stored tensor, plus the storage object made to ask.
            if torch._C._storage_Use_Count(first.untyped_storage()._cdata) > mine + 1:
                self._snapshot(pointer)
        self._shared.clear()


class _CopyOnWrite(TorchDispatchMode):
    """Copies a stored-by-reference output just before an operator writes into its storage.

    Every ATen operator passes through here while the block runs; the operator's schema says which arguments
    it writes (`relu_`, `add_`, `out=`, `copy_`, ...), so in-place changes hidden in a module's `forward`
    (ResNet's `out += identity`) are seen too, not only the ones a hook could see.
    """

    def __init__(self, cap: Capture) -> None:
        super().__init__()
        self.cap = cap

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        shared = self.cap._shared
        if shared:
            written = _WRITTEN.get(func)
            if written is None:
                written = _WRITTEN[func] = _written_arguments(func)
            for index, name in written:
                value = args[index] if index < len(args) else kwargs.get(name)
                for tensor in value if isinstance(value, list | tuple) else (value,):
                    if isinstance(tensor, Tensor):
                        pointer = _storage_pointer(tensor)
                        if pointer in shared:
                            self.cap._snapshot(pointer)
        return func(*args, **kwargs)


class _SnapshotPool:
    """Storages for copy-on-write snapshots, reused once nobody references them any more.

    A snapshot is made in the middle of the forward pass (just before `relu_` or `out += identity`), into
    memory the operating system must first fault in: on ResNet-50 that cost more than the copy. The pool keeps
    every storage it handed out (up to `budget` bytes in all) and reuses one only when its use count says that
    the pool's own reference is the last one: no result, view, numpy array or cache still holds it, so a
    result is never overwritten by a later capture. `empty_pool()` drops the storages nobody holds.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self.storages: dict[tuple[int, str], list[torch.UntypedStorage]] = {}
        self.lock = threading.Lock()

    def copy(self, t: Tensor) -> Tensor:
        if not t.is_contiguous() or t.is_inference():
            return t.clone()
        nbytes = t.numel() * t.element_size()
        key = (nbytes, str(t.device))
        with self.lock:
            storages = self.storages.setdefault(key, [])
            storage = next((s for s in storages if torch._C._storage_Use_Count(s._cdata) == 1), None)
            if storage is None:
                if self.held + nbytes > self.budget:
                    return t.clone()
                storage = torch.UntypedStorage(nbytes, device=t.device)
                storages.append(storage)
                self.held += nbytes
            out = torch.empty((0,), dtype=t.dtype, device=t.device).set_(storage, 0, t.shape, t.stride())
        return out.copy_(t)

    def empty(self) -> int:
        freed = 0
        with self.lock:
            for storages in self.storages.values():
                kept = [s for s in storages if torch._C._storage_Use_Count(s._cdata) > 1]
                freed += sum(s.nbytes() for s in storages) - sum(s.nbytes() for s in kept)
                storages[:] = kept
            self.held -= freed
        return freed


_POOL = _SnapshotPool(budget=128 * 2**20)  # ResNet-50 and VGG-16 together use 73 MB


def empty_pool() -> int:
    """Gives the memory of copy-on-write snapshots that no result holds any more back; returns its bytes."""
    return _POOL.empty()


_WRITTEN: dict[Any, tuple[tuple[int, str], ...]] = {}


def _written_arguments(func: Any) -> tuple[tuple[int, str], ...]:
    """(position, name) of every argument the operator writes into, from its schema (`Tensor(a!) self`)."""
    return tuple(
        (i, arg.name)
        for i, arg in enumerate(func._schema.arguments)
        if arg.alias_info is not None and arg.alias_info.is_write
    )


def _storage_pointer(t: Tensor) -> int | None:
    try:
        return int(t.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):
        return None


def _whole_storage(t: Tensor) -> int | None:
    """The storage address of `t` if `t` spans all of it (so a reference keeps no more memory alive than a
    copy would), else None: a slice of a larger tensor, a sparse or wrapper tensor without plain storage."""
    try:
        storage = t.untyped_storage()
        if storage.nbytes() != t.numel() * t.element_size() or storage.nbytes() == 0:
            return None
        return int(storage.data_ptr())
    except (RuntimeError, NotImplementedError):
        return None


def channel_stats(activation: Tensor) -> ChannelStats:
    """Per-channel mean/max/min of an activation, channels on dim 1 (dim 0 for a 1-D tensor).

    Args:
        activation: (N, C, ...) tensor; (C,) and 0-d tensors count as one sample.
    """
    return _finish_stats([_reductions(activation)])[0]


# (sum, max, min per channel, values per channel, shape of the activation): reduced, not yet on numpy.
_Reduced = tuple[Tensor, Tensor, Tensor, int, tuple[int, ...]]


def _reductions(activation: Tensor) -> _Reduced | ChannelStats:
    """The three per-channel reductions of `channel_stats`, left as tensors (or final stats if empty).

    Three plain reductions: torch.aminmax with a dim is ~4x slower than amax + amin on the CPU, and torch has
    no fused sum/max/min. Half precision sums in float32. This runs in every hook, so everything that can
    wait (the copy to numpy, the division, the dataclass) is done for all activations at once when the block
    ends (`_finish_stats`).
    """
    x = activation.detach()
    shape = tuple(x.shape)
    if not x.is_floating_point():
        x = x.double()
    if x.ndim < 2:
        x = x.reshape(1, -1)
    channels = x.shape[1]
    if x.numel() == 0:
        empty = np.full((3, channels), np.nan, dtype=np.float32)
        empty.setflags(write=False)
        return ChannelStats(empty[0], empty[1], empty[2], shape)
    dims = _REDUCE_DIMS.get(x.ndim) or (0, *range(2, x.ndim))
    total = (
        x.sum(dim=dims) if x.dtype in (torch.float32, torch.float64) else x.sum(dim=dims, dtype=torch.float32)
    )
    high, low = x.amax(dim=dims), x.amin(dim=dims)
    if high.dtype != total.dtype:
        high, low = high.to(total.dtype), low.to(total.dtype)
    return total, high, low, x.numel() // channels, shape


def _finish_stats(pending: list[_Reduced | ChannelStats]) -> list[ChannelStats]:
    """ChannelStats for each reduction, with one copy to numpy per dtype and device instead of one each."""
    done: list[ChannelStats | None] = [p if isinstance(p, ChannelStats) else None for p in pending]
    groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
    for i, p in enumerate(pending):
        if not isinstance(p, ChannelStats):
            groups.setdefault((p[0].dtype, p[0].device), []).append(i)
    for members in groups.values():
        parts: list[Tensor] = []
        for i in members:
            total, high, low, _, _ = pending[i]  # type: ignore[misc]
            parts += (total, high, low)
        flat = torch.cat(parts).cpu().numpy()
        spans = []
        offset = 0
        for i in members:
            _, _, _, count, shape = pending[i]  # type: ignore[misc]
            channels = int(pending[i][0].shape[0])  # type: ignore[index]
            flat[offset : offset + channels] /= count
            spans.append((i, offset, channels, shape))
            offset += 3 * channels
        flat.setflags(write=False)  # the fields are views of it: frozen dataclass, frozen arrays
        for i, start, channels, shape in spans:
            rows = flat[start : start + 3 * channels].reshape(3, channels)
            done[i] = ChannelStats(rows[0], rows[1], rows[2], shape)
    return [d for d in done if d is not None]


@contextmanager
def capture(
    model: nn.Module,
    layers: Iterable[Layer] | Layer | None = None,
    gradients: bool = False,
    reduce: bool = False,
    store: bool = True,
    full_graph: bool = True,
) -> Iterator[Capture]:
    """Records the outputs (and gradients) of `model`'s modules while the block runs the model.

    Args:
        model: Any module. It is run by the caller inside the block, as usual.
        layers: Names from `model.named_modules()` (or the module objects) to record; None records every
            submodule (not the model itself; pass "" to include it). Unknown names raise ValueError before
            anything is registered.
        gradients: Keep the graph of every recorded output so that `cap.backward(scalar)` can fill
            `cap.gradients`; the block then runs under `torch.enable_grad()`.
        reduce: Compute per-channel mean/max/min of each output inside the hook (`cap.stats`).
        store: Keep each output as it was produced (`cap.activations`); with `reduce=True, store=False` only
            the statistics are kept.
        full_graph: With `gradients=True`, build the autograd graph of the whole forward pass (so that code
            in the block can also ask for gradients w.r.t. parameters or layers that are not recorded). False
            runs the part before the first recorded output under no_grad and starts the graph there: the
            same `cap.gradients`, for less memory and time when the recorded layers are late (Grad-CAM).

    Yields:
        The Capture being filled.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    names = _resolve_layers(modules, layers)
    cap = Capture(
        layers=tuple(names),
        _store=store,
        _reduce=reduce,
        _gradients=gradients,
        _leaf_taps=gradients and not full_graph,
    )

    lock = model_lock(model)
    with lock:
        modes = [(m, m.training) for m in modules.values()]
        params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
        handles = []
        try:
            for name in names:
                handles.append(modules[name].register_forward_hook(partial(cap._hook, name)))
            if gradients and full_graph:
                handles.append(model.register_forward_pre_hook(_leaf_inputs, with_kwargs=True))
            elif gradients:
                handles.append(model.register_forward_pre_hook(_graph_off, with_kwargs=True))
                handles.append(model.register_forward_hook(_graph_on))  # if no recorded layer turned it on
            cap._open = True
            copy_on_write = store and not gradients
            with torch.enable_grad() if gradients else nullcontext(), _cow_mode(cap, copy_on_write):
                yield cap
            cap._settle(check=True)
        finally:
            cap._open = False
            cap._settle(check=False)
            cap._finish()
            for handle in handles:
                handle.remove()
            for module, training in modes:
                if module.training != training:  # nn.Module.__setattr__ is slow: only touch what changed
                    module.training = training
            for param, requires_grad, grad in params:
                if param.requires_grad != requires_grad:
                    param.requires_grad_(requires_grad)
                if param.grad is not grad:
                    param.grad = grad
            # Drop the graph and the bookkeeping; activations, stats and gradients stay.
            cap._seen.clear()
            cap._taps.clear()


@contextmanager
def _cow_mode(cap: Capture, active: bool) -> Iterator[None]:
    if not active:
        yield
        return
    with _CopyOnWrite(cap):
        yield


def _graph_off(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """full_graph=False: no graph until the first recorded output (which turns it on, `_record_tensor`).

    Only when no floating-point input requires grad: a caller who made the input a leaf may want its gradient.
    """
    floats = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor) and a.is_floating_point()]
    if not any(a.requires_grad for a in floats):
        torch._C._set_grad_enabled(False)


def _graph_on(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    torch._C._set_grad_enabled(True)


def _leaf_inputs(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """Gradient mode: if no floating-point input requires grad, run on a copy that does.

    Without it a model whose parameters are frozen would build no graph and have no activation gradients. The
    copy is a non-leaf clone of a fresh leaf, so in-place operations on it are allowed and the caller's tensor
    (and its `requires_grad`) is never touched.
    """
    floats = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor) and a.is_floating_point()]
    if not floats or any(a.requires_grad for a in floats) or not torch.is_grad_enabled():
        return None

    def swap(a: Any) -> Any:
        if isinstance(a, Tensor) and a.is_floating_point():
            return a.detach().requires_grad_(True).clone()
        return a

    return tuple(swap(a) for a in args), {k: swap(v) for k, v in kwargs.items()}


class _Stop(Exception):
    """Raised by `run_until`'s hook once the wanted call has run: nothing after it is needed."""


def run_until(
    model: nn.Module, x: Any, module: nn.Module, calls: int | None = None
) -> tuple[Tensor | None, Any, int]:
    """Runs `model(x)` under the model's lock, watching `module`; returns the first tensor argument of the
    module's last call, that call's output, and how many calls ran (0: none, both None).

    With `calls` the pass stops right after the module's `calls`-th call, so nothing later can write into
    that call's tensors: they are returned as they are (with their autograd graph, if grad mode is on).
    Without it the whole pass runs, and the tensors of each call are copied in the hook, because a later
    in-place operation could overwrite them. The caller chooses the grad mode.

    Raises:
        ValueError: the model can't take `x` (see `cnnviz.tensors.forward`).
    """
    last: list[Any] = [None, None, 0]

    def hook(_module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        arg = args[0] if args and isinstance(args[0], Tensor) else _first_tensor(args)
        if calls is None:
            arg = arg.detach().clone() if arg is not None else None
            output = output.detach().clone() if isinstance(output, Tensor) else output
        last[:] = [arg, output, last[2] + 1]
        if last[2] == calls:
            raise _Stop

    with model_lock(model):
        handle = module.register_forward_hook(hook)
        try:
            forward(model, x)
        except _Stop:
            pass
        finally:
            handle.remove()
    return last[0], last[1], last[2]


_TWINS: weakref.WeakKeyDictionary[nn.Module, nn.Module] = weakref.WeakKeyDictionary()
_NO_TWIN: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # refused a copy; kept apart: no self-reference
_TWINS_GUARD = threading.Lock()


def twin(model: nn.Module) -> nn.Module:
    """A second module tree of `model` that shares every parameter, buffer and tensor attribute with it (no
    weight is copied), built once per model; `model` itself when it can't be copied.

    Hooks belong to module objects, so a pass on the twin neither sees nor triggers the hooks of a pass on
    `model`, and it takes the twin's own lock (`model_lock(twin(model))`): a short pass that stops at one
    layer (a layer switch, a traced cell) does not wait for a whole-network pass that another session runs on
    `model`, and on a machine with a free core both run at once. Only for passes that write into no parameter
    or buffer: a model with any module in train mode (whose BatchNorm would update its running statistics
    in place) gets `model` itself, so such passes stay under one lock.

    The copy is made holding `model`'s lock, so the temporary hooks of a pass in progress are not copied with
    it. A model with an attribute that refuses to be deep-copied gets no twin.
    """

    def known() -> nn.Module | None:
        with _TWINS_GUARD:
            return model if model in _NO_TWIN else _TWINS.get(model)

    if any(m.training for m in model.modules()):
        return model  # a pass may write into shared state (BatchNorm statistics): keep it under one lock
    found = known()
    if found is not None:
        return found
    with model_lock(model):
        found = known()
        if found is not None:
            return found
        shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
        # Tensors kept as plain attributes (anchors, lookup tables) are shared too, not copied.
        shared.update((id(v), v) for m in model.modules() for v in vars(m).values() if isinstance(v, Tensor))
        try:
            made = copy.deepcopy(model, memo=shared)
        except Exception:  # any attribute may refuse a copy (a lock, an open file); the model still works
            with _TWINS_GUARD:
                _NO_TWIN.add(model)
            return model
        with _TWINS_GUARD:
            _TWINS[model] = made
        return made


def layer_name(model: nn.Module, layer: Layer) -> str:
    """The `named_modules()` name of `layer`, given as a name or as the module object.

    Raises:
        ValueError: no module of `model` has that name (the sentence suggests close names) or is that object.
        TypeError: `layer` is neither a str nor an nn.Module.
    """
    return _resolve_layers(dict(model.named_modules()), [layer])[0]


def _resolve_layers(modules: Mapping[str, nn.Module], layers: Iterable[Layer] | Layer | None) -> list[str]:
    if layers is None:
        return [name for name in modules if name]
    if isinstance(layers, str | nn.Module):
        layers = [layers]
    given = list(layers)
    bad = [name for name in given if not isinstance(name, str | nn.Module)]
    if bad:
        raise TypeError(f"layers must be module names (str) or modules, got {bad[:3]!r}")
    by_object: dict[int, str] = {}
    if any(isinstance(layer, nn.Module) for layer in given):
        by_object = {id(m): name for name, m in reversed(list(modules.items()))}  # first name of a shared one
        strays = [type(m).__name__ for m in given if isinstance(m, nn.Module) and id(m) not in by_object]
        if strays:
            raise ValueError(
                f"layers has {len(strays)} module{'s' if len(strays) > 1 else ''} that "
                f"{'are' if len(strays) > 1 else 'is'} not part of the model: {', '.join(strays[:3])}."
            )
    wanted = list(dict.fromkeys(by_object[id(m)] if isinstance(m, nn.Module) else m for m in given))
    unknown = [name for name in wanted if name not in modules]
    if unknown:
        known = [name for name in modules if name]
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            parts.append(f"{name!r}{hint}")
        raise ValueError(
            f"layers has {len(unknown)} unknown layer name{'s' if len(unknown) > 1 else ''}: "
            f"{'; '.join(parts)}. Names come from model.named_modules()."
        )
    order = {name: i for i, name in enumerate(modules)}
    return sorted(wanted, key=order.__getitem__)


def _shares_memory(t: Tensor, args: tuple[Any, ...]) -> bool:
    try:
        pointer = t.untyped_storage().data_ptr()
        return any(
            isinstance(a, Tensor) and (a is t or a.untyped_storage().data_ptr() == pointer) for a in args
        )
    except (RuntimeError, NotImplementedError):  # no plain storage (sparse, functional wrappers): assume so
        return True


def _first_tensor(args: tuple[Any, ...]) -> Tensor | None:
    for a in args:
        if isinstance(a, Tensor):
            return a
    return None


def _tensor_leaves(obj: Any, prefix: str) -> list[tuple[str, Tensor]]:
    """Tensors inside nested tuples/lists/dicts, depth-first, with their index path ("[1][0]", "[aux]")."""
    if isinstance(obj, Tensor):
        return [(prefix, obj)]
    if isinstance(obj, Mapping):
        items: Iterable[tuple[Any, Any]] = obj.items()
    elif isinstance(obj, tuple | list):
        items = enumerate(obj)
    else:
        return []
    leaves = []
    for key, value in items:
        leaves.extend(_tensor_leaves(value, f"{prefix}[{key}]"))
    return leaves


def _replace_leaves(obj: Any, replaced: dict[str, Tensor], prefix: str) -> Any:
    """Rebuilds a nested output with the tensors at the given index paths swapped."""
    if isinstance(obj, Tensor):
        return replaced.get(prefix, obj)
    if isinstance(obj, Mapping):
        new = dict(obj)
        for key, value in obj.items():
            new[key] = _replace_leaves(value, replaced, f"{prefix}[{key}]")
        try:
            return type(obj)(new)  # type: ignore[call-arg]  # dict, OrderedDict and their kin
        except TypeError:
            return new
    if isinstance(obj, tuple | list):
        items = [_replace_leaves(v, replaced, f"{prefix}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
            return type(obj)(*items)
        return type(obj)(items)
    return obj
