"""Accuracy, confusion matrix and mistakes against scikit-learn and a plain forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dataset_sets import hook_count, make_set
from sklearn.metrics import accuracy_score, confusion_matrix
from torch import nn

from cnnviz.analysis.dataset import mistakes


def classifier(classes: int = 7) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes)
    )


def test_confusion_accuracy_and_mistakes_match_references() -> None:
    model = classifier()
    paths, _x, labels, batches = make_set(40, (3, 10, 10), classes=7, batch=6)
    assert labels is not None
    report = mistakes(model, batches, limit=10, top=5)
    assert hook_count(model) == 0 and model.training
    with torch.no_grad():
        probabilities = torch.cat([model.eval()(xb) for _, xb, _ in batches]).double().softmax(dim=1)
    predicted = probabilities.argmax(dim=1).numpy()
    truth = labels.numpy()
    np.testing.assert_array_equal(report.confusion, confusion_matrix(truth, predicted, labels=range(7)))
    assert report.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert report.images == 40 and report.wrong == int((predicted != truth).sum())
    wrong = [i for i in range(40) if predicted[i] != truth[i]]
    wrong.sort(key=lambda i: (-float(probabilities[i].max()), paths[i]))
    assert [m.path for m in report.mistakes] == [paths[i] for i in wrong[:10]]
    for m, i in zip(report.mistakes, wrong, strict=False):
        assert (m.true, m.predicted) == (truth[i], predicted[i])
        assert m.confidence == pytest.approx(float(probabilities[i].max()))
        assert m.true_probability == pytest.approx(float(probabilities[i, truth[i]]))
        top_p, top_c = probabilities[i].topk(5)
        np.testing.assert_array_equal(m.top_classes, top_c.numpy())
        np.testing.assert_allclose(m.top_probabilities, top_p.numpy())
    np.testing.assert_allclose(
        report.class_accuracy, np.diag(report.confusion) / np.maximum(report.confusion.sum(axis=1), 1)
    )


def test_mistakes_need_labels_and_valid_classes() -> None:
    model = classifier(3)
    _, _, _, unlabelled = make_set(4, (3, 10, 10))
    with pytest.raises(ValueError, match="needs a labelled set"):
        mistakes(model, unlabelled)
    _, _, _, labelled = make_set(4, (3, 10, 10), classes=3)
    with pytest.raises(ValueError, match=r"0\.\.2, got 3"):
        mistakes(model, [(p, x, torch.full_like(y, 3)) for p, x, y in labelled])
    with pytest.raises(ValueError, match="categories names 2 classes but the model outputs 3"):
        mistakes(model, labelled, categories=["a", "b"])
    with pytest.raises(ValueError, match="integer class indices"):
        mistakes(model, [(p, x, y.float()) for p, x, y in labelled])
    report = mistakes(model, labelled, categories=["a", "b", "c"])
    assert report.categories == ("a", "b", "c") and report.classes == 3
