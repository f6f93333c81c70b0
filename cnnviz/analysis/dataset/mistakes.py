"""Where a classifier is wrong on a labelled set: accuracy, confusion matrix, the mistakes by confidence.

`mistakes(model, batches)` streams a labelled set through the model (eval mode, no grad). The prediction is
the arg-max of the model's (N, K) output, its confidence the softmax probability of that class (computed in
float64). The confusion matrix counts images by (true class, predicted class), rows true, as scikit-learn's
`confusion_matrix(y_true, y_pred, labels=range(K))`. Mistakes are kept most confident first (a model that is
sure and wrong is the one to look at), ties broken by path; only the `limit` most confident are kept, so
memory does not grow with the set, while `wrong` counts them all. Each kept mistake carries its top-5
classes and probabilities, for the list and for the page that shows its CAMs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.dataset._stream import Batch, Progress, check_model, logits_of, stream
from cnnviz.hooks import capture

__all__ = ["Mistake", "MistakeReport", "mistakes"]


@dataclass(frozen=True)
class Mistake:
    """One wrongly classified image.

    Attributes:
        path: The image's path as the batch named it.
        true: Its label.
        predicted: The model's arg-max class.
        confidence: Softmax probability of the predicted class.
        true_probability: Softmax probability of the true class.
        top_classes: (T,) the T = min(5, K) most probable classes, most probable first.
        top_probabilities: (T,) their probabilities.
    """

    path: str
    true: int
    predicted: int
    confidence: float
    true_probability: float
    top_classes: np.ndarray
    top_probabilities: np.ndarray


@dataclass(frozen=True)
class MistakeReport:
    """A classifier over a labelled set.

    Attributes:
        images: Images seen.
        correct: Images whose arg-max is their label.
        wrong: images − correct.
        accuracy: correct / images.
        confusion: (K, K) int64, confusion[t, p] counts images of class t predicted as p.
        mistakes: The most confident mistakes (up to `limit`), most confident first, ties by path.
        categories: Class names when given, else None.
    """

    images: int
    correct: int
    wrong: int
    accuracy: float
    confusion: np.ndarray
    mistakes: tuple[Mistake, ...]
    categories: tuple[str, ...] | None

    @property
    def classes(self) -> int:
        """Number of classes K."""
        return int(self.confusion.shape[0])

    @property
    def class_accuracy(self) -> np.ndarray:
        """(K,) share of each class's images classified right (NaN for a class with no image)."""
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion) / totals


def mistakes(
    model: nn.Module,
    batches: Iterable[Batch],
    *,
    categories: Sequence[str] | None = None,
    limit: int = 1000,
    top: int = 5,
    progress: Progress | None = None,
) -> MistakeReport:
    """Streams a labelled set through a classifier and collects its mistakes.

    Args:
        model: A classifier returning (N, K) scores (or a tuple/dict whose first tensor is that).
        batches: Iterable of (paths, x (N, C, H, W), labels (N,)); every batch must have labels.
        categories: K class names, optional (checked against K).
        limit: Most mistakes kept (the most confident ones).
        top: Classes kept per mistake.
        progress: Called with the number of images done after each batch.

    Raises:
        ValueError: unlabelled batches, labels outside 0..K−1, categories of the wrong length, bad options.
    """
    check_model(model)
    for option, value in (("limit", limit), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{option} must be a positive integer, got {value!r}.")
    confusion: np.ndarray | None = None
    kept: list[Mistake] = []
    images = 0
    for paths, x, y in stream(model, batches, labels=True, progress=progress):
        assert y is not None
        with capture(model, [], store=False), torch.no_grad():
            model.eval()
            logits = logits_of(model(x))
        classes = logits.shape[1]
        if confusion is None:
            if categories is not None and len(categories) != classes:
                raise ValueError(
                    f"categories names {len(categories)} classes but the model outputs {classes}."
                )
            confusion = np.zeros((classes, classes), dtype=np.int64)
        elif confusion.shape[0] != classes:
            raise ValueError(f"the model's class count changed from {confusion.shape[0]} to {classes}.")
        bad = y[(y < 0) | (y >= classes)]
        if bad.numel():
            raise ValueError(f"labels must be class indices in 0..{classes - 1}, got {int(bad[0])}.")
        probabilities = logits.detach().double().softmax(dim=1).cpu()
        predicted = probabilities.argmax(dim=1)
        np.add.at(confusion, (y.numpy(), predicted.numpy()), 1)
        wrong = torch.nonzero(predicted != y).flatten()
        if wrong.numel():
            t = min(top, classes)
            top_p, top_c = probabilities[wrong].topk(t, dim=1)
            for row, i in enumerate(wrong.tolist()):
                kept.append(
                    Mistake(
                        path=paths[i],
                        true=int(y[i]),
                        predicted=int(predicted[i]),
                        confidence=float(probabilities[i, predicted[i]]),
                        true_probability=float(probabilities[i, y[i]]),
                        top_classes=_frozen(top_c[row].numpy()),
                        top_probabilities=_frozen(top_p[row].numpy()),
                    )
                )
            if len(kept) > 2 * limit:
                kept = _ranked(kept)[:limit]
        images += len(paths)
    assert confusion is not None
    correct = int(np.trace(confusion))
    confusion.setflags(write=False)
    return MistakeReport(
        images=images,
        correct=correct,
        wrong=images - correct,
        accuracy=correct / images,
        confusion=confusion,
        mistakes=tuple(_ranked(kept)[:limit]),
        categories=tuple(categories) if categories is not None else None,
    )


def _ranked(kept: list[Mistake]) -> list[Mistake]:
    return sorted(kept, key=lambda m: (-m.confidence, m.path))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a
