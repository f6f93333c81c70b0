"""Two models (or two checkpoints of one architecture) on one set, and two images through one model.

**Layers** are matched by name: a name both models have, whose output for one image has the same shape in
both and a channel axis, (C, ...). Without `layers`, every such module is compared except one whose output
is the very tensor an earlier module of the same forward pass returned, unchanged (a `Sequential` and its
last child, torchvision's `Conv2dNormActivation` and its ReLU): the inner one stands for both.

**Similarity over a set: linear CKA.** Full feature maps of every image are too large to keep, so each
image is represented at each layer by its channels averaged over all positions, a (C,) vector (a Linear's
(F,) output as it is). With X (n × p) and Y (n × q) those vectors for n images, centred over the images,

    CKA = ‖XᵀY‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F)

which equals the HSIC form tr(K H L H) / √(tr(K H K H) · tr(L H L H)) with K = XXᵀ, L = YYᵀ, H = I − 11ᵀ/n,
but needs only the p × p, q × q and p × q co-moment matrices, merged batch by batch (Chan et al.'s pairwise
update, float64). Memory per layer: 8·(p² + q² + pq) bytes, independent of n (about 22 MB for p = q = 960).
A layer whose features do not vary over the set gets NaN.

**Predictions.** When both models return (N, K) scores with the same K: the share of images whose arg-max
agrees, the K × K table of (class by A, class by B), each model's accuracy on a labelled set, and the
disagreements most confidently held by both (ranked by the smaller of the two confidences, ties by path;
up to `limit` kept, all counted).

**Two images through one model** (`compare_images`): per layer the cosine similarity of the two full
feature maps, and the linear CKA of the two maps taken as samples of channel vectors, one per position
(same formula, n = positions; NaN without positions). Passing `model_b` compares one image through two
models the same way.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cnnviz.analysis.dataset._stream import (
    Batch,
    Progress,
    check_model,
    first_tensor,
    hooked,
    model_device,
    stream,
)
from cnnviz.hooks import capture, layer_name

__all__ = [
    "Disagreement",
    "ImagePairComparison",
    "ModelComparison",
    "compare_images",
    "compare_models",
    "linear_cka",
]


@dataclass(frozen=True)
class Disagreement:
    """An image on which the two models predict different classes.

    Attributes:
        path: The image's path.
        predicted_a: Model A's class.
        predicted_b: Model B's class.
        confidence_a: Model A's softmax probability of its class.
        confidence_b: Model B's softmax probability of its class.
        label: The image's label, None for an unlabelled set.
    """

    path: str
    predicted_a: int
    predicted_b: int
    confidence_a: float
    confidence_b: float
    label: int | None


@dataclass(frozen=True)
class ModelComparison:
    """Two models over one set.

    Attributes:
        layers: Matched module names, in model A's execution order.
        shapes: Output shape of one image at each matched layer, e.g. (64, 28, 28).
        cka: (L,) linear CKA of the spatially averaged channels over the set.
        unmatched: Names both models have that were not compared: outputs of different shapes, or without a
            channel axis in one of them.
        images: Images seen.
        agreement: Share of images with the same arg-max class; None when the outputs are not comparable
            class scores.
        disagreements: Number of images where the classes differ; None as for agreement.
        agreement_matrix: (K, K) int64, [i, j] counts images A calls i and B calls j; None as for agreement.
        examples: The most confident disagreements (up to `limit`).
        accuracy_a: Model A's accuracy on a labelled set, else None.
        accuracy_b: Model B's accuracy on a labelled set, else None.
    """

    layers: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    cka: np.ndarray
    unmatched: tuple[str, ...]
    images: int
    agreement: float | None
    disagreements: int | None
    agreement_matrix: np.ndarray | None
    examples: tuple[Disagreement, ...]
    accuracy_a: float | None
    accuracy_b: float | None


@dataclass(frozen=True)
class ImagePairComparison:
    """Two images (or one image through two models), layer by layer.

    Attributes:
        layers: Matched module names.
        shapes: Output shape of one image at each layer.
        cosine: (L,) cosine similarity of the two flattened feature maps.
        cka: (L,) linear CKA over positions (channel vectors as samples); NaN without positions.
    """

    layers: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    cosine: np.ndarray
    cka: np.ndarray


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two feature matrices with the same rows (n × p, n × q), centred here."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must be (n, p) and (n, q) matrices with the same n, got {x.shape} and {y.shape}."
        )
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    return _cka(x.T @ x, y.T @ y, x.T @ y)


def _cka(cxx: np.ndarray, cyy: np.ndarray, cxy: np.ndarray) -> float:
    denominator = float(np.linalg.norm(cxx) * np.linalg.norm(cyy))
    if denominator == 0.0 or not np.isfinite(denominator):
        return float("nan")
    return float(np.linalg.norm(cxy) ** 2 / denominator)


class _CrossMoments:
    """Co-moment matrices of two feature streams, merged batch by batch in float64 (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0
        self.mx = self.my = self.cxx = self.cyy = self.cxy = np.zeros(0)

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        m = x.shape[0]
        bx, by = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - bx, y - by
        sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
        if self.n == 0:
            self.n, self.mx, self.my, self.cxx, self.cyy, self.cxy = m, bx, by, sxx, syy, sxy
            return
        total = self.n + m
        dx, dy = bx - self.mx, by - self.my
        f = self.n * m / total
        self.cxx = self.cxx + sxx + f * np.outer(dx, dx)
        self.cyy = self.cyy + syy + f * np.outer(dy, dy)
        self.cxy = self.cxy + sxy + f * np.outer(dx, dy)
        self.mx = self.mx + dx * (m / total)
        self.my = self.my + dy * (m / total)
        self.n = total

    def cka(self) -> float:
        return _cka(self.cxx, self.cyy, self.cxy) if self.n else float("nan")


class _Recorder:
    """Hooks that keep, per module, the last call's output reduced by `reduce`, and spot shared outputs."""

    def __init__(self, reduce: Any) -> None:
        self.reduce = reduce
        self.values: dict[str, Any] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.order: list[str] = []
        self.duplicates: set[str] = set()
        self._seen: dict[int, tuple[weakref.ref[Tensor], int | None]] = {}

    def reset(self) -> None:
        self.values.clear()
        self._seen.clear()

    def __call__(self, name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        out = first_tensor(output)
        if out is None or out.dim() < 2 or not out.is_floating_point():
            return
        version = None if out.is_inference() else out._version
        earlier = self._seen.get(id(out))
        if earlier is not None and earlier[0]() is out and earlier[1] is not None and earlier[1] == version:
            self.duplicates.add(name)
        self._seen[id(out)] = (weakref.ref(out), version)
        if name not in self.shapes:
            self.order.append(name)
        self.shapes[name] = tuple(out.shape[1:])
        self.values[name] = self.reduce(out.detach())


def _co_moment_bytes(p: int, q: int) -> int:
    return 8 * (p * p + q * q + p * q)


def _pooled(out: Tensor) -> np.ndarray:
    pooled = out.double().mean(dim=tuple(range(2, out.dim()))) if out.dim() > 2 else out.double()
    return pooled.cpu().numpy()


def _names(model_a: nn.Module, model_b: nn.Module, layers: Iterable[str | nn.Module] | None) -> list[str]:
    if layers is None:
        b = dict(model_b.named_modules())
        return [n for n in dict(model_a.named_modules()) if n and n in b]
    if isinstance(layers, str | nn.Module):
        layers = [layers]
    names = [layer_name(model_a, layer) for layer in layers]
    for name in names:
        layer_name(model_b, name)  # ValueError naming it when model B lacks it
    return list(dict.fromkeys(names))


def _run(model: nn.Module, x: Tensor, names: Sequence[str], recorder: _Recorder) -> Any:
    recorder.reset()
    with capture(model, [], store=False), hooked(model, names, recorder), torch.no_grad():
        model.eval()
        return model(x)


def _scores(output: Any) -> Tensor | None:
    out = first_tensor(output)
    return out if out is not None and out.dim() == 2 and out.is_floating_point() else None


def compare_models(
    model_a: nn.Module,
    model_b: nn.Module,
    batches: Iterable[Batch],
    *,
    layers: Iterable[str | nn.Module] | None = None,
    limit: int = 100,
    max_bytes: int = 256 * 2**20,
    progress: Progress | None = None,
) -> ModelComparison:
    """Streams one set through two models; per matched layer the linear CKA, and where predictions differ.

    Args:
        model_a: A module (both run in eval mode under no_grad, state restored).
        model_b: Another module, or the same one (then it runs once per batch).
        batches: Iterable of (paths, x (N, C, H, W), labels or None); the same x goes to both models.
        layers: Names (or model A's modules) to compare; None: every matched module (module docstring).
        limit: Disagreements kept as examples.
        max_bytes: Most memory the co-moment matrices may take, 8·(p² + q² + pq) bytes per layer; more
            raises ValueError before anything is accumulated (every layer of MobileNetV2 needs about
            800 MiB: choose layers).
        progress: Called with the number of images done after each batch.

    Raises:
        ValueError: a named layer missing in a model, no layer matched, the layers would need more than
            `max_bytes`, an empty set, bad options.
    """
    check_model(model_a, "model_a")
    check_model(model_b, "model_b")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}.")
    given = layers is not None
    names = _names(model_a, model_b, layers)
    same = model_b is model_a
    rec_a, rec_b = _Recorder(_pooled), _Recorder(_pooled)
    matched: list[str] | None = None
    unmatched: tuple[str, ...] = ()
    moments: dict[str, _CrossMoments] = {}
    shapes: tuple[tuple[int, ...], ...] = ()
    table: np.ndarray | None = None
    comparable = True
    examples: list[Disagreement] = []
    right_a = right_b = 0
    labelled = False
    images = 0
    for paths, x, y in stream(model_a, batches, progress=progress):
        hooked_names = names if matched is None else matched
        out_a = _run(model_a, x, hooked_names, rec_a)
        if same:
            out_b, rec_b = out_a, rec_a
        else:
            out_b = _run(model_b, x.to(*model_device(model_b)), hooked_names, rec_b)
        if matched is None:
            ok = [
                n
                for n in rec_a.order
                if n in rec_b.shapes
                and rec_a.shapes[n] == rec_b.shapes[n]
                and (given or n not in rec_a.duplicates)
            ]
            unmatched = tuple(
                n
                for n in names
                if n not in ok
                and (given or n not in rec_a.duplicates)
                and (n in rec_a.shapes or n in rec_b.shapes)
            )
            if not ok:
                raise ValueError(
                    "no layer matched: the models share no module name with outputs of equal shape."
                )
            need = sum(_co_moment_bytes(rec_a.shapes[n][0], rec_b.shapes[n][0]) for n in ok)
            if need > max_bytes:
                raise ValueError(
                    f"comparing {len(ok)} layers would keep {need / 2**20:.0f} MiB of co-moment matrices, "
                    f"more than max_bytes ({max_bytes / 2**20:.0f} MiB): pass fewer layers."
                )
            matched = ok
            moments = {n: _CrossMoments() for n in matched}
            shapes = tuple(rec_a.shapes[n] for n in matched)
        for n in matched:
            moments[n].add(rec_a.values[n], rec_b.values[n])
        scores_a, scores_b = _scores(out_a), _scores(out_b)
        if (
            comparable
            and scores_a is not None
            and scores_b is not None
            and scores_a.shape[1] == scores_b.shape[1]
        ):
            p_a = scores_a.double().softmax(dim=1).cpu()
            p_b = scores_b.double().softmax(dim=1).cpu()
            c_a, c_b = p_a.argmax(dim=1), p_b.argmax(dim=1)
            if table is None:
                table = np.zeros((p_a.shape[1],) * 2, dtype=np.int64)
            np.add.at(table, (c_a.numpy(), c_b.numpy()), 1)
            if y is not None:
                labelled = True
                right_a += int((c_a == y).sum())
                right_b += int((c_b == y).sum())
            for i in torch.nonzero(c_a != c_b).flatten().tolist():
                examples.append(
                    Disagreement(
                        paths[i],
                        int(c_a[i]),
                        int(c_b[i]),
                        float(p_a[i, c_a[i]]),
                        float(p_b[i, c_b[i]]),
                        int(y[i]) if y is not None else None,
                    )
                )
            if len(examples) > 2 * limit:
                examples = _ranked(examples)[:limit]
        else:
            comparable = False
        images += len(paths)
    assert matched is not None
    cka = np.array([moments[n].cka() for n in matched])
    cka.setflags(write=False)
    if table is not None:
        table.setflags(write=False)
    agree = int(np.trace(table)) if comparable and table is not None else None
    return ModelComparison(
        layers=tuple(matched),
        shapes=shapes,
        cka=cka,
        unmatched=unmatched,
        images=images,
        agreement=agree / images if agree is not None else None,
        disagreements=images - agree if agree is not None else None,
        agreement_matrix=table if comparable else None,
        examples=tuple(_ranked(examples)[:limit]) if comparable else (),
        accuracy_a=right_a / images if labelled and comparable else None,
        accuracy_b=right_b / images if labelled and comparable else None,
    )


def _ranked(examples: list[Disagreement]) -> list[Disagreement]:
    return sorted(examples, key=lambda d: (-min(d.confidence_a, d.confidence_b), d.path))


def compare_images(
    model: nn.Module,
    image_a: Tensor,
    image_b: Tensor,
    *,
    layers: Iterable[str | nn.Module] | None = None,
    model_b: nn.Module | None = None,
) -> ImagePairComparison:
    """Two preprocessed images through one model (or one image through two), layer by layer.

    Args:
        model: The model for `image_a` (and `image_b` unless `model_b` is given).
        image_a: (1, C, H, W) or (C, H, W).
        image_b: (1, C, H, W) or (C, H, W), through `model_b` when given.
        layers: Names to compare; None: every matched module (see the module docstring).
        model_b: Another model for `image_b`.

    Raises:
        ValueError: images of the wrong shape, a named layer missing, nothing matched.
    """
    check_model(model)
    other = model if model_b is None else check_model(model_b, "model_b")
    xs = []
    for label, image in (("image_a", image_a), ("image_b", image_b)):
        if isinstance(image, Tensor) and image.dim() == 3:
            image = image.unsqueeze(0)
        if (
            not isinstance(image, Tensor)
            or image.dim() != 4
            or image.shape[0] != 1
            or not image.is_floating_point()
        ):
            shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
            raise ValueError(f"{label} must be one preprocessed image of shape (1, C, H, W), got {shape}.")
        xs.append(image)
    given = layers is not None
    names = _names(model, other, layers)
    keep = _Recorder(lambda t: t[0].double().cpu())
    keep_b = _Recorder(lambda t: t[0].double().cpu())
    device_a, dtype_a = model_device(model)
    device_b, dtype_b = model_device(other)
    _run(model, xs[0].to(device_a, dtype_a), names, keep)
    _run(other, xs[1].to(device_b, dtype_b), names, keep_b)
    matched = [
        n
        for n in keep.order
        if n in keep_b.shapes and keep.shapes[n] == keep_b.shapes[n] and (given or n not in keep.duplicates)
    ]
    if not matched:
        raise ValueError("no layer matched: no module name with outputs of equal shape in both passes.")
    cosine, cka = [], []
    for n in matched:
        a, b = keep.values[n], keep_b.values[n]
        norm = float(a.norm() * b.norm())
        cosine.append(float((a * b).sum()) / norm if norm > 0 else float("nan"))
        if a.dim() >= 2:
            pa = a.reshape(a.shape[0], -1).T.numpy()
            pb = b.reshape(b.shape[0], -1).T.numpy()
            cka.append(linear_cka(pa, pb) if pa.shape[0] > 1 else float("nan"))
        else:
            cka.append(float("nan"))
    arrays = np.array(cosine), np.array(cka)
    for arr in arrays:
        arr.setflags(write=False)
    return ImagePairComparison(tuple(matched), tuple(keep.shapes[n] for n in matched), *arrays)
