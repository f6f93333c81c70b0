"""Layer health over an image set: dead, always-on and saturated channels, histograms, gradients, BN drift.

`layer_health(model, batches)` streams the set through the model (eval mode) once and reduces every
module's output inside its forward hook, so no feature map outlives its batch. One row per module whose
output has a channel axis, (N, C, ...) with channels on dim 1 (a Linear's (N, F) counts, F as channels);
every call of a module called several times counts. What each row holds, over all images and positions:

- `dead`: channels whose maximum is ≤ 0 (a ReLU after them never passes anything); `always_on`: channels
  whose minimum is > 0;
- `saturated` (only for bounded outputs: Sigmoid, Hardsigmoid, Tanh, Softsign, Hardtanh but not ReLU6,
  whose lower bound is ReLU's ordinary zero): channels with at least `saturation_share` (default 95 %) of
  their values within `saturation_margin` (default 5 %) of the output range from either bound; for a
  sigmoid, below 0.05 or above 0.95, where its slope is under a fifth of its largest;
- `mean`, `std` (population), `zero_fraction` (values exactly 0), also per channel;
- `histogram` of all values: `bins` equal bins whose width is a power of two and whose edges are integer
  multiples of it. The first batch sets the range; when a later batch falls outside it, the width doubles
  (neighbouring bins merge, exactly) until everything fits, so the streamed counts equal
  `np.histogram(all values, edges)` with the final edges. Bins are half-open [a, b): the range always
  reaches past the largest value. NaN and ±inf are left out and counted in `nonfinite`;
- `gradient_norm` (labelled sets): the root mean square over images of ‖∂CE/∂output‖, the gradient of that
  image's cross-entropy against its label with respect to the module's output (in eval mode each image's
  output depends only on that image, so one backward pass of the batch's summed loss gives every image's
  gradient); several calls add their squared norms;
- `batch_norm` (BatchNorm modules with running statistics): the per-channel mean and unbiased variance of the
  module's *input* over the set, against `running_mean`/`running_var`, the statistics it normalises with in
  eval mode. `mean_shift` is the largest |set mean − running mean| / √(running var + eps), `var_ratio` the
  largest of r and 1/r with r = (set var + eps) / (running var + eps).

Means and variances are merged batch by batch with Chan et al.'s pairwise update in float64, each batch's
own mean and squared deviations computed in float64 from its values.

`HealthReport.worst()` names the layers to look at first. A row's `problems`: "dead" (any dead channel),
"saturated" (any saturated channel), "batch_norm_shift" (mean_shift > 1 or var_ratio > 4: the set is not
what the layer was trained on, or the preprocessing differs), "vanishing_gradient" (gradient norm below
1/1000 of the largest layer's). Its `severity` in [0, 1] is the largest of the dead fraction, the saturated
fraction, min(1, max(mean_shift, log2 var_ratio) / 4) for a flagged BN and 0.5 for a vanishing gradient.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.analysis.dataset._stream import (
    Batch,
    Progress,
    check_model,
    first_tensor,
    hooked,
    logits_of,
    stream,
)
from cnnviz.hooks import Layer, capture, layer_name

__all__ = ["BatchNormCheck", "HealthReport", "Histogram", "LayerHealth", "layer_health"]

MEAN_SHIFT_LIMIT = 1.0
VAR_RATIO_LIMIT = 4.0
VANISHING_RATIO = 1e-3


@dataclass(frozen=True)
class Histogram:
    """Counts of all values of a layer over the set.

    Attributes:
        counts: (B,) int64, bin i counts values in [edges[i], edges[i + 1]).
        edges: (B + 1,) float64, equally spaced.
        nonfinite: NaN and ±inf values left out.
    """

    counts: np.ndarray
    edges: np.ndarray
    nonfinite: int


@dataclass(frozen=True)
class BatchNormCheck:
    """A BatchNorm's running statistics against the statistics of its input over the set.

    Attributes:
        running_mean: (C,) what the module normalises with in eval mode.
        running_var: (C,)
        set_mean: (C,) mean of the module's input over the set (images and positions).
        set_var: (C,) unbiased variance of the module's input over the set (torch's running_var convention).
        mean_shift: max over channels of |set_mean − running_mean| / √(running_var + eps).
        var_ratio: max over channels of max(r, 1/r), r = (set_var + eps) / (running_var + eps).
    """

    running_mean: np.ndarray
    running_var: np.ndarray
    set_mean: np.ndarray
    set_var: np.ndarray
    mean_shift: float
    var_ratio: float


@dataclass(frozen=True)
class LayerHealth:
    """One module's output over the set (see the module docstring for each rule).

    Attributes:
        layer: Module name.
        kind: Class name, e.g. "ReLU".
        shape: Output shape of one image (last call), e.g. (32, 56, 56).
        channels: C.
        values: Values seen per channel (images × positions × calls).
        dead: Channels whose maximum is ≤ 0.
        always_on: Channels whose minimum is > 0.
        saturated: Saturated channels; None for outputs without bounds.
        dead_channels: Indices of the dead channels.
        always_on_channels: Indices of the always-on channels.
        saturated_channels: Indices of the saturated channels (empty without bounds).
        mean: Mean of all values.
        std: Population standard deviation of all values.
        zero_fraction: Share of values exactly 0.
        channel_mean: (C,)
        channel_std: (C,) population.
        channel_max: (C,)
        channel_min: (C,)
        channel_zero_fraction: (C,)
        histogram: All values binned.
        gradient_norm: RMS over images of ‖∂CE/∂output‖; None without labels (or gradients off).
        batch_norm: For BatchNorm modules with running statistics, else None.
        problems: Flags, e.g. ("dead", "batch_norm_shift").
        severity: In [0, 1]; 0 when there is no problem.
    """

    layer: str
    kind: str
    shape: tuple[int, ...]
    channels: int
    values: int
    dead: int
    always_on: int
    saturated: int | None
    dead_channels: np.ndarray
    always_on_channels: np.ndarray
    saturated_channels: np.ndarray
    mean: float
    std: float
    zero_fraction: float
    channel_mean: np.ndarray
    channel_std: np.ndarray
    channel_max: np.ndarray
    channel_min: np.ndarray
    channel_zero_fraction: np.ndarray
    histogram: Histogram
    gradient_norm: float | None
    batch_norm: BatchNormCheck | None
    problems: tuple[str, ...]
    severity: float

    @property
    def dead_fraction(self) -> float:
        """Share of channels that are dead."""
        return self.dead / self.channels

    @property
    def saturated_fraction(self) -> float | None:
        """Share of channels that are saturated; None without bounds."""
        return None if self.saturated is None else self.saturated / self.channels


@dataclass(frozen=True)
class HealthReport:
    """Layer health of every module over one set.

    Attributes:
        layers: One row per module with a channel axis, in execution order (first call).
        images: Number of images seen.
        gradients: Whether gradient norms were computed (a labelled set).
    """

    layers: tuple[LayerHealth, ...]
    images: int
    gradients: bool

    def layer(self, name: str) -> LayerHealth:
        """The row of module `name`."""
        for row in self.layers:
            if row.layer == name:
                return row
        raise ValueError(f"no health row for layer {name!r}; rows are the modules with a channel axis.")

    def worst(self, n: int = 5) -> list[LayerHealth]:
        """Up to n rows with problems, most severe first (ties in execution order)."""
        flagged = [row for row in self.layers if row.problems]
        return sorted(flagged, key=lambda row: -row.severity)[:n]

    def table(self) -> list[dict[str, Any]]:
        """One plain dict per row (the health.csv columns), numbers as Python floats/ints."""
        rows = []
        for r in self.layers:
            rows.append(
                {
                    "layer": r.layer,
                    "kind": r.kind,
                    "channels": r.channels,
                    "dead": r.dead,
                    "dead_fraction": r.dead_fraction,
                    "always_on": r.always_on,
                    "saturated": r.saturated,
                    "mean": r.mean,
                    "std": r.std,
                    "zero_fraction": r.zero_fraction,
                    "gradient_norm": r.gradient_norm,
                    "bn_mean_shift": r.batch_norm.mean_shift if r.batch_norm else None,
                    "bn_var_ratio": r.batch_norm.var_ratio if r.batch_norm else None,
                    "problems": " ".join(r.problems),
                }
            )
        return rows


def layer_health(
    model: nn.Module,
    batches: Iterable[Batch],
    *,
    layers: Iterable[Layer] | None = None,
    bins: int = 64,
    gradients: bool | None = None,
    saturation_margin: float = 0.05,
    saturation_share: float = 0.95,
    gradient_batch: int = 8,
    progress: Progress | None = None,
) -> HealthReport:
    """Streams a set through `model` and reports the health of each module's output.

    Args:
        model: Any module; run in eval mode, its modes, `requires_grad` and `.grad` restored afterwards.
        batches: Iterable of (paths, x (N, C, H, W), labels or None).
        layers: Modules to examine (names or module objects); None: every submodule.
        bins: Histogram bins (even, ≥ 2).
        gradients: Compute gradient norms of the cross-entropy; None: when the set is labelled. True needs
            labels.
        saturation_margin: Distance from a bound, as a share of the output range, that counts as "near".
        saturation_share: Share of a channel's values near a bound that makes it saturated.
        gradient_batch: With gradients, each batch runs forward and backward in slices of at most this many
            images (the backward pass keeps every layer's output and gradient of the slice alive).
        progress: Called with the number of images done after each batch.

    Raises:
        ValueError: bad options, unknown layers, an empty set, labels missing when gradients=True.
    """
    check_model(model)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2 or bins % 2:
        raise ValueError(f"bins must be an even integer ≥ 2, got {bins!r}.")
    if not 0 < saturation_margin < 0.5:
        raise ValueError(f"saturation_margin must be between 0 and 0.5, got {saturation_margin!r}.")
    if isinstance(gradient_batch, bool) or not isinstance(gradient_batch, int) or gradient_batch < 1:
        raise ValueError(f"gradient_batch must be a positive integer, got {gradient_batch!r}.")
    if not 0 < saturation_share <= 1:
        raise ValueError(f"saturation_share must be in (0, 1], got {saturation_share!r}.")
    modules = dict(model.named_modules())
    if layers is None:
        names = [n for n in modules if n]
    else:
        wanted = {
            layer_name(model, layer)
            for layer in ([layers] if isinstance(layers, str | nn.Module) else layers)
        }
        names = [n for n in modules if n in wanted]
    stats: dict[str, _LayerStats] = {}
    shared: dict[int, tuple[weakref.ref[Tensor], int | None, _Batch]] = {}  # this forward pass's reductions

    def hook(name: str, module: nn.Module, args: Any, output: Any) -> None:
        out = first_tensor(output)
        if out is None or out.dim() < 2 or not out.is_floating_point() or out.shape[1] == 0:
            return
        entry = stats.get(name)
        if entry is None:
            entry = stats[name] = _LayerStats(module, out.shape[1], bins, saturation_margin)
        # A Sequential returns its last child's tensor: reduce it once (same object, not modified since).
        version = None if out.is_inference() else out._version
        earlier = shared.get(id(out))
        reuse = None
        if earlier is not None and earlier[0]() is out and version is not None and earlier[1] == version:
            reuse = earlier[2]
        shared[id(out)] = (weakref.ref(out), version, entry.add(out.detach(), reuse))
        if entry.bn is not None and args and isinstance(args[0], Tensor):
            entry.bn.add(args[0].detach())

    images = 0
    use_gradients = gradients
    for _, x, y in stream(model, batches, labels=True if gradients else None, progress=progress):
        if use_gradients is None:
            use_gradients = y is not None
        if use_gradients and y is not None:
            # Backward keeps every layer's output and gradient alive: go in slices of gradient_batch images.
            for start in range(0, x.shape[0], gradient_batch):
                part, labels = x[start : start + gradient_batch], y[start : start + gradient_batch]
                shared.clear()
                with capture(model, names, gradients=True, store=False) as cap, hooked(model, names, hook):
                    model.eval()
                    logits = logits_of(model(part))
                    _check_labels(labels, logits.shape[1])
                    cap.backward(F.cross_entropy(logits.float(), labels.to(logits.device), reduction="sum"))
                    for name, grads in cap.gradient_calls.items():
                        if name in stats:
                            stats[name].grad_sq += sum(
                                float(g.square().sum(dtype=torch.float64)) for g in grads
                            )
        else:
            shared.clear()
            with capture(model, [], store=False), hooked(model, names, hook), torch.no_grad():
                model.eval()
                model(x)
        images += x.shape[0]
    rows = [
        stats[name].row(name, images if use_gradients else None, saturation_share)
        for name in stats  # created at each module's first call: execution order
    ]
    return HealthReport(_flag(rows), images, bool(use_gradients))


def _check_labels(y: Tensor, classes: int) -> None:
    bad = y[(y < 0) | (y >= classes)]
    if bad.numel():
        raise ValueError(f"labels must be class indices in 0..{classes - 1}, got {int(bad[0])}.")


class _Moments:
    """Per-channel count, mean and sum of squared deviations, merged batch by batch (Chan et al.)."""

    def __init__(self, channels: int) -> None:
        self.n = 0
        self.mean = np.zeros(channels)
        self.m2 = np.zeros(channels)

    def merge(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * n / total)
        self.n = total

    def add(self, x: Tensor) -> tuple[int, np.ndarray, np.ndarray]:
        """Adds the values of an (N, C, ...) tensor, channels on dim 1; returns its (count, mean, m2)."""
        channels = x.shape[1]
        # One float64 copy, laid out channel-major so that both passes reduce contiguous rows (several
        # times faster than reducing over dims (0, 2, 3) in place): the mean, then the squared deviations.
        rows = x.transpose(0, 1).to(torch.float64, memory_format=torch.contiguous_format).view(channels, -1)
        mean = rows.mean(dim=1)
        rows -= mean[:, None]
        both = torch.stack([mean, rows.square_().sum(dim=1)]).cpu().numpy()
        self.merge(rows.shape[1], both[0], both[1])
        return rows.shape[1], both[0], both[1]


class _RunningHistogram:
    """Equal bins of width 2^e on edges that are integer multiples of it; the width doubles to fit more."""

    def __init__(self, bins: int) -> None:
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.width = 0.0
        self.start = 0  # first edge = start · width
        self.nonfinite = 0

    def add(self, x: Tensor, low: float, high: float) -> None:
        """Adds the values of `x`, whose smallest and largest are `low` and `high` (NaN if any is NaN)."""
        values = x
        if not (math.isfinite(low) and math.isfinite(high)):
            values = x[torch.isfinite(x)]  # rare: the boolean mask costs more than all the rest
            self.nonfinite += int(x.numel() - values.numel())
            if not values.numel():
                return
            low, high = float(values.min()), float(values.max())
        if self.width == 0.0:
            spread = (high - low) / self.bins if high > low else max(abs(low), 1.0) / self.bins
            self.width = math.ldexp(1.0, math.frexp(spread)[1])  # a power of two ≥ spread
            self.start = math.floor(low / self.width)
        while low < self.start * self.width or high >= (self.start + self.bins) * self.width:
            self._double(left=low < self.start * self.width)
        # Dividing by a power of two is exact in any float format, and so is floor: no float64 copy needed.
        index = torch.floor(values / self.width).long()
        index -= self.start
        self.counts += torch.bincount(index.flatten(), minlength=self.bins).cpu().numpy()

    def state(self) -> tuple[float, int, int, bytes]:
        return self.width, self.start, self.nonfinite, self.counts.tobytes()

    def restore(self, state: tuple[float, int, int, bytes]) -> None:
        self.width, self.start, self.nonfinite = state[:3]
        self.counts = np.frombuffer(state[3], dtype=np.int64).copy()

    def _double(self, left: bool) -> None:
        # The new range [s'·2w, (s' + B)·2w) must hold the old [s·w, (s + B)·w): (s − B)/2 ≤ s' ≤ s/2.
        # Take the end that extends the side the data need.
        start = -((self.bins - self.start) // 2) if left else self.start // 2
        merged = np.zeros_like(self.counts)
        # Old bin i covers [(s + i)·w, (s + i + 1)·w), inside new bin ⌊(s + i) / 2⌋ − s'.
        np.add.at(merged, (self.start + np.arange(self.bins)) // 2 - start, self.counts)
        self.counts, self.start, self.width = merged, start, self.width * 2

    def result(self) -> Histogram:
        edges = (self.start + np.arange(self.bins + 1)) * self.width
        counts = self.counts.copy()
        for a in (counts, edges):
            a.setflags(write=False)
        return Histogram(counts, edges, self.nonfinite)


def _bounds(module: nn.Module) -> tuple[float, float] | None:
    if isinstance(module, nn.Sigmoid | nn.Hardsigmoid):
        return 0.0, 1.0
    if isinstance(module, nn.Tanh | nn.Softsign):
        return -1.0, 1.0
    if isinstance(module, nn.Hardtanh) and not isinstance(module, nn.ReLU6):
        return float(module.min_val), float(module.max_val)
    return None


@dataclass(frozen=True)
class _Batch:
    """One module call's reduction, reusable by another module that returned the same tensor."""

    table: np.ndarray  # rows: max, min, zeros (, near a bound)
    moments: tuple[int, np.ndarray, np.ndarray]
    histogram: tuple[tuple[float, int, int, bytes], tuple[float, int, int, bytes]]  # state before, after
    bounds: tuple[tuple[float, float] | None, float]


class _LayerStats:
    """Everything one module's rows need, accumulated call by call."""

    def __init__(self, module: nn.Module, channels: int, bins: int, margin: float) -> None:
        self.kind = type(module).__name__
        self.channels = channels
        self.moments = _Moments(channels)
        self.max = np.full(channels, -np.inf)
        self.min = np.full(channels, np.inf)
        self.zeros = np.zeros(channels, dtype=np.int64)
        self.bounds = _bounds(module)
        self.margin = margin
        self.near = np.zeros(channels, dtype=np.int64)
        self.histogram = _RunningHistogram(bins)
        self.grad_sq = 0.0
        self.shape: tuple[int, ...] = ()
        self.module = module
        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None
        self.bn = _Moments(channels) if is_bn else None

    def add(self, out: Tensor, reuse: _Batch | None = None) -> _Batch:
        """Adds one call's output; `reuse`: the reduction of this very tensor by another module."""
        if out.shape[1] != self.channels:
            raise ValueError(
                f"a {self.kind} changed its channel count from {self.channels} to {out.shape[1]}."
            )
        self.shape = tuple(out.shape[1:])
        if reuse is not None and reuse.bounds == (self.bounds, self.margin):
            table, moments = reuse.table, reuse.moments
            self.moments.merge(*moments)
        else:
            dims = [0, *range(2, out.dim())]
            parts = [out.amax(dim=dims), out.amin(dim=dims), (out == 0).sum(dim=dims)]
            if self.bounds is not None:
                low, high = self.bounds
                gap = self.margin * (high - low)
                parts.append(((out <= low + gap) | (out >= high - gap)).sum(dim=dims))
            table = torch.stack([p.double() for p in parts]).cpu().numpy()
            moments = self.moments.add(out)
        self.max = np.maximum(self.max, table[0])  # NaN propagates: a channel that produced NaN says so
        self.min = np.minimum(self.min, table[1])
        self.zeros += table[2].astype(np.int64)
        if self.bounds is not None:
            self.near += table[3].astype(np.int64)
        before = self.histogram.state()
        if reuse is not None and reuse.histogram[0] == before:
            self.histogram.restore(reuse.histogram[1])
        else:
            self.histogram.add(out, float(table[1].min()), float(table[0].max()))
        return _Batch(table, moments, (before, self.histogram.state()), (self.bounds, self.margin))

    def row(self, name: str, images: int | None, share: float) -> LayerHealth:
        n, c = self.moments.n, self.channels
        mean = float(self.moments.mean.mean())
        total_m2 = float(self.moments.m2.sum() + n * ((self.moments.mean - mean) ** 2).sum())
        dead = np.flatnonzero(self.max <= 0)
        always_on = np.flatnonzero(self.min > 0)
        saturated = (
            np.flatnonzero(self.near >= share * n) if self.bounds is not None else np.zeros(0, np.int64)
        )
        arrays = {
            "channel_mean": self.moments.mean.copy(),
            "channel_std": np.sqrt(self.moments.m2 / n),
            "channel_max": self.max.copy(),
            "channel_min": self.min.copy(),
            "channel_zero_fraction": self.zeros / n,
            "dead_channels": dead,
            "always_on_channels": always_on,
            "saturated_channels": saturated,
        }
        for a in arrays.values():
            a.setflags(write=False)
        return LayerHealth(
            layer=name,
            kind=self.kind,
            shape=self.shape,
            channels=c,
            values=n,
            dead=len(dead),
            always_on=len(always_on),
            saturated=len(saturated) if self.bounds is not None else None,
            mean=mean,
            std=math.sqrt(total_m2 / (n * c)),
            zero_fraction=float(self.zeros.sum() / (n * c)),
            histogram=self.histogram.result(),
            gradient_norm=math.sqrt(self.grad_sq / images) if images else None,
            batch_norm=self._bn_check(),
            problems=(),
            severity=0.0,
            **arrays,
        )

    def _bn_check(self) -> BatchNormCheck | None:
        if self.bn is None or self.bn.n < 2:
            return None
        module = self.module
        assert isinstance(module, nn.modules.batchnorm._BatchNorm)
        assert module.running_mean is not None and module.running_var is not None
        running_mean = module.running_mean.detach().double().cpu().numpy().copy()
        running_var = module.running_var.detach().double().cpu().numpy().copy()
        set_mean = self.bn.mean.copy()
        set_var = self.bn.m2 / (self.bn.n - 1)
        eps = float(module.eps)
        shift = float(np.max(np.abs(set_mean - running_mean) / np.sqrt(running_var + eps)))
        ratio = (set_var + eps) / (running_var + eps)
        for a in (running_mean, running_var, set_mean, set_var):
            a.setflags(write=False)
        return BatchNormCheck(
            running_mean, running_var, set_mean, set_var, shift, float(np.max(np.maximum(ratio, 1 / ratio)))
        )


def _flag(rows: list[LayerHealth]) -> tuple[LayerHealth, ...]:
    norms = [r.gradient_norm for r in rows if r.gradient_norm is not None]
    top = max(norms) if norms else 0.0
    flagged = []
    for r in rows:
        problems: list[str] = []
        severity = 0.0
        if r.dead:
            problems.append("dead")
            severity = max(severity, r.dead_fraction)
        if r.saturated:
            problems.append("saturated")
            severity = max(severity, r.saturated / r.channels)
        bn = r.batch_norm
        if bn is not None and (bn.mean_shift > MEAN_SHIFT_LIMIT or bn.var_ratio > VAR_RATIO_LIMIT):
            problems.append("batch_norm_shift")
            severity = max(severity, min(1.0, max(bn.mean_shift, math.log2(bn.var_ratio)) / 4))
        if r.gradient_norm is not None and top > 0 and r.gradient_norm < VANISHING_RATIO * top:
            problems.append("vanishing_gradient")
            severity = max(severity, 0.5)
        flagged.append(dataclasses.replace(r, problems=tuple(problems), severity=severity))
    return tuple(flagged)
