"""Training FCN-mini and FCN-mini-instance on shapes scenes (`python -m cnnviz.train fcn-mini`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from cnnviz.data import shapes
from cnnviz.models.segmenters.evaluation import (
    HELD_OUT_COUNT,
    _images,
    evaluate_instances,
    evaluate_semantic,
    held_out_scenes,
)
from cnnviz.models.segmenters.fcn import SEGMENTATION_CLASSES, FCNMini, InstanceFCNMini
from cnnviz.models.segmenters.instances import CENTER_SIGMA, OFFSET_SCALE, instance_targets
from cnnviz.models.training import Batch, Stopwatch, fit, one_cycle, write_card

__all__ = ["train_fcn_mini", "train_fcn_mini_instance"]


# -------------------------------------------------------------------------------------------- training

_TRAIN_COUNT = 3600
_VALIDATION_START = 500_000
"""Seeds of the scenes the instance threshold is chosen on: neither trained on nor held out."""
_VALIDATION_COUNT = 200
_BATCH_SIZE = 8
_SEED = 0
_WEIGHT_DECAY = 1e-4
_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "fcn-mini": {"epochs": 4, "lr": 3e-3, "start": "resnet-mini"},
    "fcn-mini-instance": {"epochs": 3, "lr": 2e-3, "start": "fcn-mini"},
}
# Panoptic-DeepLab's weights: the centre heatmap's squared error is small per pixel, so it is scaled up.
_CENTER_WEIGHT = 200.0
_OFFSET_WEIGHT = 1.0
_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def _flip(x: torch.Tensor, flip_y: bool, flip_x: bool) -> torch.Tensor:
    dims = [d for d, f in ((-2, flip_y), (-1, flip_x)) if f]
    return x.flip(dims) if dims else x


def _start_weights(name: str, out_dir: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The trained weights a bundled segmenter starts from: those in `out_dir` if it was trained there, else
    the committed ones."""
    from safetensors.torch import load_file

    from cnnviz.weights import BUNDLED_DIR, bundled_path

    for folder in (out_dir, BUNDLED_DIR):
        path = bundled_path(name, ".safetensors", folder)
        if path.is_file():
            return load_file(str(path)), path
    raise FileNotFoundError(f"train {name} first (`python -m cnnviz.train {name}`): it is the starting point")


def _instance_loss(
    out: dict[str, torch.Tensor], y: torch.Tensor, c: torch.Tensor, o: torch.Tensor
) -> torch.Tensor:
    on_object = (y > 0).unsqueeze(1).float()
    offset_l1 = (F.l1_loss(out["offset"], o, reduction="none") * on_object).sum() / on_object.sum().clamp(
        min=1
    )
    return (
        F.cross_entropy(out["out"], y)
        + _CENTER_WEIGHT * F.mse_loss(out["center"], c)
        + _OFFSET_WEIGHT * offset_l1
    )


def _train(name: str, epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train one bundled segmenter on shapes scenes, measure it on the held-out scenes, write weights + card.

    Deterministic for a given machine, thread count and starting weights: data, initial weights, batch order
    and flips follow `_SEED`; the global random state is left as it was.
    """
    from cnnviz.weights import sha256_file

    settings = _TRAIN_DEFAULTS[name]
    epochs = settings["epochs"] if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    instance = name == "fcn-mini-instance"
    watch = Stopwatch()
    start_state, start_path = _start_weights(settings["start"], out_dir)
    scenes = [shapes.scene(seed) for seed in shapes.train_seeds(_TRAIN_COUNT)]
    images = _images(scenes)
    semantic = torch.from_numpy(np.stack([s.semantic for s in scenes]).astype(np.int64))
    if instance:
        targets = [instance_targets(torch.from_numpy(s.masks)) for s in scenes]
        centers = torch.stack([c for c, _ in targets])
        offsets = torch.stack([o for _, o in targets])
    del scenes
    held = held_out_scenes()

    def build() -> FCNMini:
        if instance:
            instance_net = InstanceFCNMini()
            instance_net.load_semantic(start_state)
            return instance_net
        net = FCNMini()
        net.load_classifier(start_state)
        return net

    def loss(model: FCNMini, batch: Batch) -> torch.Tensor:
        idx = batch.index
        # Every shape class is closed under flips, so a flipped scene is another valid scene.
        flip_y, flip_x = (bool(v) for v in torch.randint(0, 2, (2,)))
        x = shapes.normalize(_flip(images[idx], flip_y, flip_x))
        y = _flip(semantic[idx], flip_y, flip_x)
        if not instance:
            return F.cross_entropy(model(x), y)
        # A flip turns the vectors too: flipping rows negates dy, flipping columns negates dx.
        sign = torch.tensor([-1.0 if flip_y else 1.0, -1.0 if flip_x else 1.0]).view(1, 2, 1, 1)
        c = _flip(centers[idx], flip_y, flip_x)
        o = _flip(offsets[idx], flip_y, flip_x) * sign
        return _instance_loss(model(x), y, c, o)

    def after_epoch(model: FCNMini, epoch: int) -> str | None:
        if not progress:
            return None
        return f"held-out mean IoU (first 100) {evaluate_semantic(model, held[:100])['mean_iou']:.4f}"

    model = fit(
        build,
        size=len(images),
        batch_size=_BATCH_SIZE,
        epochs=epochs,
        seed=_SEED,
        optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=settings["lr"], weight_decay=_WEIGHT_DECAY),
        loss=loss,
        schedule=one_cycle(settings["lr"], pct_start=0.15),
        drop_last=True,
        on_epoch=after_epoch,
        name=name,
        progress=progress,
    ).model
    timing = watch.read()
    semantic_metrics = evaluate_semantic(model, held)
    card: dict[str, Any] = {
        "architecture": f"cnnviz.models.segmenters.{type(model).__name__}",
        "task": "segmentation",
        "kind": "instance" if instance else "semantic",
        "data": (
            "synthetic shapes scenes (cnnviz.data.shapes.scene), 96x96 RGB, 1-4 shapes per scene with "
            "limited overlap; classes: background + " + ", ".join(shapes.CLASSES)
        ),
        "categories": list(SEGMENTATION_CLASSES),
        "normalize": {"mean": list(shapes.MEAN), "std": list(shapes.STD)},
        "started_from": {"model": settings["start"], "weights_sha256": sha256_file(start_path)},
        "train_seeds": [0, _TRAIN_COUNT],
        "train_count": _TRAIN_COUNT,
        "held_out_seeds": [shapes.HELD_OUT_START, shapes.HELD_OUT_START + HELD_OUT_COUNT],
        "held_out_count": HELD_OUT_COUNT,
        "seed": _SEED,
        "epochs": epochs,
        "batch_size": _BATCH_SIZE,
        "optimizer": f"AdamW(lr={settings['lr']}, weight_decay={_WEIGHT_DECAY}), one-cycle schedule",
        "augmentation": "random vertical and horizontal flips per batch",
        # Rounded down, so a re-measurement on the same scenes is never below the card.
        "held_out_mean_iou": math.floor(semantic_metrics["mean_iou"] * 10_000) / 10_000,
        "held_out_iou_per_class": semantic_metrics["iou"],
        "held_out_pixel_accuracy": round(semantic_metrics["pixel_accuracy"], 4),
        "mean_iou_definition": (
            "per class IoU = TP / (TP + FP + FN) over all pixels of the held-out scenes, averaged over the 7 "
            "classes including background"
        ),
    }
    if instance:
        assert isinstance(model, InstanceFCNMini)
        validation = [
            shapes.scene(s) for s in range(_VALIDATION_START, _VALIDATION_START + _VALIDATION_COUNT)
        ]
        by_threshold = {t: evaluate_instances(model, validation, t)["panoptic_quality"] for t in _THRESHOLDS}
        threshold = max(_THRESHOLDS, key=lambda t: by_threshold[t])  # chosen on validation, never held-out
        inst = evaluate_instances(model, held, threshold)
        card.update(
            {
                "loss": (
                    f"cross-entropy (semantic) + {_CENTER_WEIGHT:g} x MSE (centre heatmap, Gaussian sigma "
                    f"{CENTER_SIGMA:g} px at each visible mask's centre of mass) + {_OFFSET_WEIGHT:g} x L1 "
                    f"(offset to the centre in units of {OFFSET_SCALE:g} px, on object pixels)"
                ),
                "instance_method": (
                    "learned: Panoptic-DeepLab-style centre heatmap and offset maps as three more outputs "
                    f"of the FCN; objects = heatmap peaks >= {threshold:g} (7x7 local maxima), each "
                    "foreground pixel joins the peak its offset points to, class = majority vote of the "
                    "semantic scores"
                ),
                "center_threshold": threshold,
                "validation_pq_by_threshold": {f"{t:g}": round(v, 4) for t, v in by_threshold.items()},
                "validation_seeds": [_VALIDATION_START, _VALIDATION_START + _VALIDATION_COUNT],
                "held_out_instance_precision": math.floor(inst["precision"] * 10_000) / 10_000,
                "held_out_instance_recall": math.floor(inst["recall"] * 10_000) / 10_000,
                "held_out_panoptic_quality": math.floor(inst["panoptic_quality"] * 10_000) / 10_000,
                "held_out_matched_iou": round(inst["matched_iou"], 4),
                "instance_metric_definition": (
                    "a predicted mask is a true positive when its class is right and IoU > 0.5 with a true "
                    "visible mask (one-to-one); PQ = sum of matched IoUs / (TP + FP/2 + FN/2), pooled over "
                    "all objects of the held-out scenes"
                ),
            }
        )
    else:
        card["loss"] = "cross-entropy on logits"
    record = ("params", "train_time_s", "train_cpu_s", "threads", "torch", "python")
    return write_card(name, model, card, out_dir, timing=timing, record=record)


def train_fcn_mini(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train FCN-mini (semantic) on shapes scenes, starting from ResNet-mini; returns the written card."""
    return _train("fcn-mini", epochs, out_dir, progress)


def train_fcn_mini_instance(epochs: int | None, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train FCN-mini-instance (classes + centre + offset) on shapes scenes, starting from FCN-mini; returns
    the written card."""
    return _train("fcn-mini-instance", epochs, out_dir, progress)
