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
- Each output is stored as `output.detach().clone()`: ResNet's `out += identity` and `ReLU(inplace=True)`
  change a tensor after the hook that saw it ran. A tensor returned unchanged by several modules (a
  `Sequential` and its last child, a block and its final ReLU) is stored once and shared; the tensor's version
  counter tells whether it was modified in place in between (inference tensors have none: never shared).
- Gradients never use `register_full_backward_hook` (it breaks on in-place operations) and never touch
  `param.grad`. With `gradients=True` each hook keeps the tensor the module produced (the "tap") and hands a
  clone of it to the rest of the network, so later in-place operations modify the clone, never the tap;
  `cap.backward(scalar)` then calls `torch.autograd.grad(scalar, taps)`: the gradient w.r.t. each output as it
  was produced. The block runs under `torch.enable_grad()`, and when no input requires grad the model's input
  is swapped for a fresh leaf copy that does (the caller's tensor is untouched), so the graph exists even for
  frozen models.
- Tuple, list and dict outputs: `activations[name]` is always a Tensor, the first tensor found depth-first
  (LSTM's `output`, a segmentation model's `"out"`); every other tensor is kept under `name` plus its index
  path, e.g. `"rnn[1][0]"` or `"model[aux]"`.
- Modules called more than once in a forward pass (torchvision's `BasicBlock` calls `relu` twice):
  `activations[name]` is the last call, `calls[name]` lists every call in order (`stat_calls` and
  `gradient_calls` likewise). `order` lists every recorded call of the block in execution order. Run one
  forward pass per block: every call's copy is kept until the Capture is dropped.
- `reduce=True` computes per-channel mean/max/min inside the hook (`stats`); with `store=False` nothing else
  is kept, so summarising every layer of a large network does not keep every feature map alive.
- Cached models are shared between Streamlit sessions (threads): `capture()` holds `model_lock(model)`, one
  re-entrant lock per model object, for the whole block.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from cnnviz.locks import model_lock

__all__ = ["Call", "Capture", "ChannelStats", "Layer", "capture", "channel_stats", "layer_name", "model_lock"]

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

    __slots__ = ("call", "ref", "stats", "stored", "tap", "version")

    def __init__(
        self,
        ref: weakref.ref[Tensor],
        version: int | None,
        stored: Tensor | None,
        stats: ChannelStats | None,
        tap: Tensor | None,
        call: int,
    ) -> None:
        self.ref = ref
        self.version = version
        self.stored = stored
        self.stats = stats
        self.tap = tap
        self.call = call


@dataclass(eq=False)
class Capture:
    """What `capture()` recorded; filled while the block runs, complete after it.

    Attributes:
        layers: The module names that were hooked, in `named_modules()` order.
        activations: Module name -> its output (last call), detached copies. Extra tensors of tuple/dict
            outputs appear under `name[i]` / `name[key]`.
        calls: Module name -> the outputs of every call, in order.
        stats: Module name -> ChannelStats of the last call (when `reduce=True`).
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
    _open: bool = False
    _seen: dict[int, _Entry] = field(default_factory=dict, repr=False)
    _call_count: dict[str, int] = field(default_factory=dict, repr=False)
    # (key, tap, tap's version when recorded) for every floating-point output, in recording order.
    _taps: list[tuple[str, Tensor, int | None]] = field(default_factory=list, repr=False)

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
        elif self._gradients and t.requires_grad:
            # The module's own output becomes the tap; downstream gets a clone, so in-place operations later
            # on (ReLU(inplace=True), `out += identity`) cannot alter the tap or what we stored.
            # The tap is stored without a copy unless someone else may hold it: a parameter, or the module's
            # input returned as is or as a view (nn.Identity, nn.Flatten), which the caller still references.
            stored = None
            if self._store:
                stored = t.detach().clone() if t.is_leaf or _shares_memory(t, args) else t.detach()
            stats = channel_stats(t) if self._reduce else None
            handed = t.clone()
            entry = _Entry(weakref.ref(handed), handed._version, stored, stats, t, position)
            self._seen[id(handed)] = entry
        else:
            stored = t.detach().clone() if self._store else None
            stats = channel_stats(t) if self._reduce else None
            entry = _Entry(weakref.ref(t), version, stored, stats, None, position)
            self._seen[id(t)] = entry
        if entry.stored is not None:
            self.activations[key] = entry.stored
            self.calls.setdefault(key, []).append(entry.stored)
        if entry.stats is not None:
            self.stats[key] = entry.stats
            self.stat_calls.setdefault(key, []).append(entry.stats)
        if self._gradients and t.is_floating_point():
            tap = entry.tap if entry.tap is not None else t
            self._taps.append((key, tap, None if tap.is_inference() else tap._version))
        return handed


def channel_stats(activation: Tensor) -> ChannelStats:
    """Per-channel mean/max/min of an activation, channels on dim 1 (dim 0 for a 1-D tensor).

    Args:
        activation: (N, C, ...) tensor; (C,) and 0-d tensors count as one sample.
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
    # Three plain reductions: torch.aminmax with a dim is ~10x slower than amax + amin on the CPU. Half
    # precision sums in float32. Every torch call costs microseconds, and this runs in every hook.
    total = (
        x.sum(dim=dims) if x.dtype in (torch.float32, torch.float64) else x.sum(dim=dims, dtype=torch.float32)
    )
    high, low = x.amax(dim=dims), x.amin(dim=dims)
    if high.dtype != total.dtype:
        high, low = high.to(total.dtype), low.to(total.dtype)
    table = torch.stack([total, high, low]).cpu().numpy()
    table[0] /= x.numel() // channels
    table.setflags(write=False)  # the rows are views: frozen dataclass, frozen arrays
    return ChannelStats(table[0], table[1], table[2], shape)


@contextmanager
def capture(
    model: nn.Module,
    layers: Iterable[Layer] | Layer | None = None,
    gradients: bool = False,
    reduce: bool = False,
    store: bool = True,
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
        store: Keep a detached copy of each output (`cap.activations`); with `reduce=True, store=False` only
            the statistics are kept.

    Yields:
        The Capture being filled.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    names = _resolve_layers(modules, layers)
    cap = Capture(layers=tuple(names), _store=store, _reduce=reduce, _gradients=gradients)

    lock = model_lock(model)
    with lock:
        modes = [(m, m.training) for m in modules.values()]
        params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
        handles = []
        try:
            for name in names:
                handles.append(modules[name].register_forward_hook(partial(cap._hook, name)))
            if gradients:
                handles.append(model.register_forward_pre_hook(_leaf_inputs, with_kwargs=True))
            cap._open = True
            with torch.enable_grad() if gradients else nullcontext():
                yield cap
        finally:
            cap._open = False
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
