"""One training loop and one model-card writer for every bundled model.

The bundled networks (LeNet-5, the mini CNNs, YOLO-mini, the two FCNs, the DCGAN) all train the same way:
build the network from a seed, shuffle the examples each epoch, cut them into batches, take an optimiser step
per batch (most with a one-cycle learning rate), report a line per epoch. :func:`fit` is that loop; a trainer
says only what differs: how to build its model, the loss of a batch (or, for the GAN's two players, a step
that updates the model itself), and what to measure after an epoch. :func:`write_card` writes the weights and
the model card, adding the facts every card records about the run (parameter count, time, threads, versions).

Determinism: :func:`fit` forks the global random state, seeds it with ``seed``, then builds the model and
trains inside it, so the initial weights, the shuffles, dropout and anything the loss draws from the global
generator follow the seed, and the caller's random state is left as it was. A trainer that draws from its own
``torch.Generator`` passes it as ``generator``, and the shuffles come from it too. The same seed on the same
machine and thread count gives the same weights, bit for bit.

>>> x, y = torch.randn(40, 3), torch.randn(40, 1)
>>> fitted = fit(lambda: nn.Linear(3, 1), size=40, batch_size=8, epochs=2, seed=0,
...              optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
...              loss=lambda m, batch: F.mse_loss(m(x[batch.index]), y[batch.index]))
>>> fitted.steps, fitted.epoch_losses["loss"].shape  # 5 batches a pass, one mean per epoch
(10, (2,))
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR

from cnnviz.weights import save_bundled

__all__ = [
    "RECORD_FIELDS",
    "Batch",
    "Fitted",
    "Schedule",
    "Stopwatch",
    "Timing",
    "fit",
    "one_cycle",
    "seeded",
    "write_card",
]

M = TypeVar("M", bound=nn.Module)

Schedule = Callable[[Optimizer, int], LRScheduler]
"""Makes the learning-rate schedule from the optimiser and the number of steps of the whole run."""


@dataclass(frozen=True)
class Batch:
    """One batch of a :func:`fit` epoch.

    Attributes:
        index: ``(B,)`` int64 positions of the batch's examples in the data set; the loss indexes its tensors.
        draws: this epoch's per-example random draws (``fit``'s ``draw``) at ``index``, or ``None``.
        epoch: 1-based.
        step: 0-based, counted over all epochs.
    """

    index: Tensor
    draws: Tensor | None
    epoch: int
    step: int


@dataclass(frozen=True, eq=False)
class Fitted(Generic[M]):
    """What :func:`fit` returns.

    Attributes:
        model: the trained model, in the mode the last epoch's ``on_epoch`` left it.
        step_losses: per name (``"loss"`` for a loss function, the step's own names otherwise), ``(steps,)``
            float64: each batch's value.
        epoch_losses: per name, ``(epochs,)`` float64: the mean over each epoch's examples (each batch
            weighted by its size).
        steps: optimiser steps taken (batches of all epochs).
    """

    model: M
    step_losses: Mapping[str, np.ndarray]
    epoch_losses: Mapping[str, np.ndarray]
    steps: int


def one_cycle(max_lr: float, pct_start: float = 0.3) -> Schedule:
    """torch's one-cycle schedule over the whole run: warm up to ``max_lr`` for ``pct_start`` of the steps,
    then anneal (cosine) far below the start."""

    def make(optimizer: Optimizer, total_steps: int) -> LRScheduler:
        return OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start)

    return make


def seeded(seed: int, build: Callable[[], M]) -> M:
    """``build()`` with the global generator seeded by ``seed``; the global random state is left as it was.

    The model :func:`fit` would build from the same seed, for a trainer that needs it before training (the
    GAN measures its untrained generator).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


def fit(
    build: Callable[[], M],
    *,
    size: int,
    batch_size: int,
    epochs: int,
    seed: int,
    optimizer: Callable[[M], Any],
    loss: Callable[[M, Batch], Tensor] | None = None,
    step: Callable[[M, Any, Batch], Mapping[str, float]] | None = None,
    schedule: Schedule | None = None,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
    draw: Callable[[int, torch.Generator | None], Tensor] | None = None,
    on_epoch: Callable[[M, int], str | None] | None = None,
    name: str = "model",
    progress: bool = False,
) -> Fitted[M]:
    """Trains a model built from ``seed`` for ``epochs`` passes over ``size`` examples in shuffled batches.

    Each epoch: the model goes to train mode; the examples are shuffled (``torch.randperm``); ``draw``, if
    given, draws per-example random numbers for the epoch; then for each batch of ``batch_size`` positions
    either ``loss(model, batch)`` is computed and ``fit`` takes the optimiser step (zero the gradients,
    backward, step, then the schedule's step), or ``step(model, optimizer, batch)`` updates the model itself
    and returns its losses by name. After the epoch ``on_epoch(model, epoch)`` runs (an evaluation, a
    snapshot); what it returns joins the progress line.

    Args:
        build: makes the model; called with the global generator seeded by ``seed``.
        size: examples in the data set; batches hold positions ``0 .. size - 1``.
        batch_size: examples per batch; the last batch of an epoch may be smaller unless ``drop_last``.
        epochs: passes over the data.
        seed: seeds the global generator for the build and the whole run (restored afterwards).
        optimizer: makes the optimiser from the built model: a ``torch.optim.Optimizer`` with ``loss``, or
            whatever ``step`` wants (the GAN's pair of optimisers).
        loss: the scalar loss of one batch.
        step: one update of the model on one batch, returning ``{name: value}``; instead of ``loss``.
        schedule: the learning-rate schedule (see :func:`one_cycle`), stepped after every batch; with
            ``loss`` only.
        drop_last: leave out an epoch's last batch when it is smaller than ``batch_size``.
        generator: draws the shuffles (and is the trainer's to use in ``loss``); ``None``: the global one.
        draw: ``draw(size, generator)`` -> ``(size, ...)`` random numbers drawn right after each shuffle;
            each batch gets its rows as ``batch.draws`` (which flip each image gets this epoch).
        on_epoch: called after each epoch; returns a note for the progress line or ``None``.
        name: the model's name in the progress lines.
        progress: print one line per epoch to stderr.

    Returns:
        The trained model with the losses of every step and epoch.

    Raises:
        ValueError: ``size``, ``batch_size`` or ``epochs`` is not a positive whole number; not exactly one of
            ``loss`` and ``step``; a ``schedule`` with ``step``; ``drop_last`` with fewer examples than one
            batch.
        TypeError: with ``loss``, ``optimizer`` made no ``torch.optim.Optimizer``.
    """
    for arg, number in (("size", size), ("batch_size", batch_size), ("epochs", epochs)):
        _positive(arg, number)
    if (loss is None) == (step is None):
        raise ValueError("fit needs exactly one of loss (fit takes the optimiser step) and step (it does)")
    if step is not None and schedule is not None:
        raise ValueError("a schedule works with loss only; a step that updates the model schedules itself")
    steps_per_epoch = size // batch_size if drop_last else math.ceil(size / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"drop_last with size {size} below batch_size {batch_size} leaves no batch")
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
        made = optimizer(model)
        take: Callable[[M, Batch], Mapping[str, float]]
        if loss is not None:
            if not isinstance(made, Optimizer):
                raise TypeError(f"optimizer must make a torch.optim.Optimizer with loss, got {type(made)}")
            take = _loss_step(loss, made, schedule(made, epochs * steps_per_epoch) if schedule else None)
        else:
            assert step is not None

            def take(model: M, batch: Batch) -> Mapping[str, float]:
                return step(model, made, batch)

        step_values: dict[str, list[float]] = {}
        epoch_values: dict[str, list[float]] = {}
        count = 0
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(size, generator=generator)
            draws = draw(size, generator) if draw is not None else None
            totals: dict[str, float] = {}
            seen = 0
            for k in range(steps_per_epoch):
                index = order[k * batch_size : (k + 1) * batch_size]
                values = take(model, Batch(index, None if draws is None else draws[index], epoch, count))
                count += 1
                seen += len(index)
                for key, value in values.items():
                    step_values.setdefault(key, []).append(float(value))
                    totals[key] = totals.get(key, 0.0) + float(value) * len(index)
            for key, total in totals.items():
                epoch_values.setdefault(key, []).append(total / seen)
            note = on_epoch(model, epoch) if on_epoch is not None else None
            if progress:
                means = ", ".join(f"{key} {v[-1]:.4f}" for key, v in epoch_values.items())
                print(
                    f"{name} epoch {epoch}/{epochs}: {means}{', ' + note if note else ''}, "
                    f"{time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return Fitted(
        model=model,
        step_losses={k: np.asarray(v, dtype=np.float64) for k, v in step_values.items()},
        epoch_losses={k: np.asarray(v, dtype=np.float64) for k, v in epoch_values.items()},
        steps=count,
    )


def _loss_step(
    loss: Callable[[M, Batch], Tensor], optimizer: Optimizer, scheduler: LRScheduler | None
) -> Callable[[M, Batch], Mapping[str, float]]:
    def take(model: M, batch: Batch) -> Mapping[str, float]:
        value = loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return {"loss": float(value.detach())}

    return take


# ------------------------------------------------------------------------------------------ model cards


@dataclass(frozen=True)
class Timing:
    """How long a run took and on how many threads (as a card records it).

    Attributes:
        seconds: wall-clock time.
        cpu_seconds: CPU time of this process.
        threads: torch's intra-op thread count when it was read.
    """

    seconds: float
    cpu_seconds: float
    threads: int


class Stopwatch:
    """Wall and CPU time since it was made; :meth:`read` also notes torch's thread count at that moment."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def read(self) -> Timing:
        return Timing(
            seconds=time.perf_counter() - self._wall,
            cpu_seconds=time.process_time() - self._cpu,
            threads=torch.get_num_threads(),
        )


RECORD_FIELDS: tuple[str, ...] = (
    "params",
    "parameters",
    "train_time_s",
    "seconds",
    "train_cpu_s",
    "threads",
    "torch",
    "python",
    "date",
)
"""The run facts :func:`write_card` can add. Two spellings of the parameter count and the wall time, because
the cards were written before there was one writer and their readers know them by those keys."""


def _fact(key: str, model: nn.Module, timing: Timing) -> Any:
    if key in ("params", "parameters"):
        return sum(p.numel() for p in model.parameters())
    if key in ("train_time_s", "seconds"):
        return round(timing.seconds, 1)
    if key == "train_cpu_s":
        return round(timing.cpu_seconds, 1)
    if key == "threads":
        return timing.threads
    if key == "torch":
        return torch.__version__
    if key == "python":
        return platform.python_version()
    return _dt.datetime.now(_dt.UTC).date().isoformat()  # "date"


def write_card(
    name: str,
    model: nn.Module,
    card: Mapping[str, Any],
    out_dir: str | Path,
    *,
    timing: Timing,
    record: Sequence[str],
) -> dict[str, Any]:
    """Writes ``NAME.safetensors`` (the model's state dict) and its ``NAME.json`` model card to ``out_dir``.

    The card is ``name``, then ``card`` as given (what the trainer knows: data, split, seed, epochs,
    optimiser, held-out numbers), then the run facts named in ``record``, in that order:

    - ``params`` or ``parameters``: the model's parameter count;
    - ``train_time_s`` or ``seconds``: ``timing.seconds`` to 0.1 s; ``train_cpu_s``: ``timing.cpu_seconds``;
    - ``threads``: ``timing.threads``; ``torch``, ``python``: the versions; ``date``: today in UTC, ISO.

    :func:`cnnviz.weights.save_bundled` then adds ``weights_file`` and ``weights_sha256``, so the card names
    the file it describes.

    Returns:
        The card as written.

    Raises:
        ValueError: ``card`` holds ``name`` or a fact of ``record``; ``record`` names a fact not in
            :data:`RECORD_FIELDS` or one twice.
    """
    unknown = [key for key in record if key not in RECORD_FIELDS]
    if unknown:
        raise ValueError(f"record names unknown facts {unknown}; known: {', '.join(RECORD_FIELDS)}")
    if len(set(record)) != len(record):
        raise ValueError(f"record names a fact twice: {list(record)}")
    clash = [key for key in ("name", *record) if key in card]
    if clash:
        raise ValueError(f"card must leave {clash} to write_card, which fills them in")
    written: dict[str, Any] = {"name": name, **card}
    written.update({key: _fact(key, model, timing) for key in record})
    return save_bundled(name, model.state_dict(), written, out_dir)
