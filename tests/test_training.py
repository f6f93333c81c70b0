"""The one training loop (`fit`) and the one model-card writer (`write_card`) every bundled trainer uses."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from cnnviz.models.training import Batch, Stopwatch, Timing, fit, one_cycle, seeded, write_card
from cnnviz.weights import read_card, sha256_file

_SIZE, _BATCH, _EPOCHS, _SEED, _LR = 50, 8, 3, 7, 0.05


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(_SIZE, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # three classes
    return x, y


def _net() -> nn.Module:
    # Dropout draws from the global generator, so the run's seeding must cover it too.
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def _fit_tiny(**overrides):
    x, y = _data()
    kwargs = dict(
        size=_SIZE,
        batch_size=_BATCH,
        epochs=_EPOCHS,
        seed=_SEED,
        optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=_LR, weight_decay=1e-3),
        loss=lambda m, batch: F.cross_entropy(m(x[batch.index]), y[batch.index]),
        schedule=one_cycle(_LR, pct_start=0.2),
    )
    kwargs.update(overrides)
    return fit(_net, **kwargs)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_fit_twice_gives_identical_weights_and_leaves_the_global_generator() -> None:
    before = torch.get_rng_state()
    first, second = _fit_tiny(), _fit_tiny()
    assert torch.equal(torch.get_rng_state(), before)
    assert _same_weights(first.model, second.model)
    assert first.step_losses["loss"].tolist() == second.step_losses["loss"].tolist()
    # 50 examples in batches of 8: 7 batches per epoch, the last one of 2.
    assert first.steps == 21 and first.step_losses["loss"].shape == (21,)
    assert first.epoch_losses["loss"].shape == (_EPOCHS,)
    other = _fit_tiny(seed=_SEED + 1)
    assert not _same_weights(first.model, other.model)


def test_fit_matches_a_hand_written_loop() -> None:
    """The loop the five trainers had, written out: the same weights and losses, bit for bit."""
    x, y = _data()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = _net()
        optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=1e-3)
        steps_per_epoch = -(-_SIZE // _BATCH)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=_LR, total_steps=_EPOCHS * steps_per_epoch, pct_start=0.2
        )
        losses, epoch_means = [], []
        for _ in range(_EPOCHS):
            model.train()
            order = torch.randperm(_SIZE)
            total = 0.0
            for start in range(0, _SIZE, _BATCH):
                idx = order[start : start + _BATCH]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                total += float(loss.detach()) * len(idx)
            epoch_means.append(total / _SIZE)
    fitted = _fit_tiny()
    assert _same_weights(fitted.model, model)
    assert fitted.step_losses["loss"].tolist() == losses
    assert fitted.epoch_losses["loss"].tolist() == epoch_means


def test_a_few_steps_reduce_the_loss() -> None:
    x, y = _data()
    fitted = _fit_tiny(epochs=10, schedule=None)
    with torch.no_grad():
        untrained = F.cross_entropy(seeded(_SEED, _net).eval()(x), y)
        trained = F.cross_entropy(fitted.model.eval()(x), y)
    assert float(trained) < 0.7 * float(untrained)
    assert fitted.epoch_losses["loss"][-1] < fitted.epoch_losses["loss"][0]


def test_own_generator_draws_and_drop_last_as_a_hand_written_loop() -> None:
    """A trainer's own generator shuffles and draws; ``draws`` rows follow the batch; short batches go."""
    x, y = _data()
    seen: list[tuple[list[int], list[int], int, int]] = []

    def loss(m: nn.Module, batch: Batch) -> torch.Tensor:
        assert batch.draws is not None
        seen.append((batch.index.tolist(), batch.draws.tolist(), batch.epoch, batch.step))
        return F.cross_entropy(m(x[batch.index] * (1 + batch.draws[:, None])), y[batch.index])

    fitted = _fit_tiny(
        loss=loss,
        generator=torch.Generator().manual_seed(5),
        draw=lambda n, g: torch.randint(0, 2, (n,), generator=g),
        drop_last=True,
    )
    g = torch.Generator().manual_seed(5)
    expected = []
    for epoch in range(1, _EPOCHS + 1):
        order = torch.randperm(_SIZE, generator=g)
        draws = torch.randint(0, 2, (_SIZE,), generator=g)
        for k in range(_SIZE // _BATCH):
            idx = order[k * _BATCH : (k + 1) * _BATCH]
            expected.append((idx.tolist(), draws[idx].tolist(), epoch, len(expected)))
    assert seen == expected and fitted.steps == 18


def test_a_step_that_updates_the_model_itself() -> None:
    """The GAN's way: fit makes whatever the step needs (two optimisers) and averages what it returns."""
    x, _ = _data()
    calls: list[int] = []

    def make(m: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        return torch.optim.SGD(m[0].parameters(), lr=0.1), torch.optim.SGD(m[3].parameters(), lr=0.1)

    def step(m: nn.Module, optimizers, batch: Batch) -> dict[str, float]:
        first, second = optimizers
        calls.append(len(batch.index))
        out = m(x[batch.index])
        a, b = out[:, 0].square().mean(), out[:, 1].abs().mean()
        first.zero_grad()
        second.zero_grad()
        (a + b).backward()
        first.step()
        second.step()
        return {"a": float(a.detach()), "b": float(b.detach())}

    fitted = fit(_net, size=_SIZE, batch_size=16, epochs=2, seed=0, optimizer=make, step=step)
    assert calls == [16, 16, 16, 2] * 2
    assert set(fitted.step_losses) == {"a", "b"} and fitted.steps == 8
    a = fitted.step_losses["a"]
    assert fitted.epoch_losses["a"][0] == pytest.approx((a[0] * 16 + a[1] * 16 + a[2] * 16 + a[3] * 2) / 50)


def test_progress_and_on_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    epochs_seen: list[int] = []

    def after(model: nn.Module, epoch: int) -> str:
        epochs_seen.append(epoch)
        return f"note {epoch}"

    fitted = _fit_tiny(epochs=2, on_epoch=after, name="tiny", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert epochs_seen == [1, 2] and len(lines) == 2
    mean = fitted.epoch_losses["loss"][1]
    assert lines[1].startswith(f"tiny epoch 2/2: loss {mean:.4f}, note 2, ") and lines[1].endswith(" s")


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 2.5}, ValueError, "batch_size"),
        ({"size": -1}, ValueError, "size"),
        ({"step": lambda m, o, b: {}}, ValueError, "exactly one of loss"),
        ({"loss": None}, ValueError, "exactly one of loss"),
        ({"loss": None, "step": lambda m, o, b: {}}, ValueError, "schedule"),
        ({"drop_last": True, "batch_size": 64}, ValueError, "no batch"),
        ({"optimizer": lambda m: "adam"}, TypeError, "Optimizer"),
    ],
)
def test_fit_rejects_bad_arguments(overrides: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _fit_tiny(**overrides)


# ------------------------------------------------------------------------------------------ model cards


def test_write_card_writes_weights_and_the_run_facts(tmp_path: Path) -> None:
    model = seeded(0, _net)
    timing = Timing(seconds=12.345, cpu_seconds=10.06, threads=3)
    record = ("params", "train_time_s", "train_cpu_s", "threads", "torch", "python", "date")
    card = write_card("tiny", model, {"seed": 0, "epochs": 2}, tmp_path, timing=timing, record=record)
    assert list(card)[:3] == ["name", "seed", "epochs"]
    assert list(card)[3:] == [*record, "weights_file", "weights_sha256"]
    assert card["params"] == 4 * 16 + 16 + 16 * 3 + 3
    assert (card["train_time_s"], card["train_cpu_s"], card["threads"]) == (12.3, 10.1, 3)
    assert card["torch"] == torch.__version__ and card["python"] == platform.python_version()
    assert card["weights_sha256"] == sha256_file(tmp_path / "tiny.safetensors")
    assert read_card("tiny", tmp_path) == card
    assert json.loads((tmp_path / "tiny.json").read_text(encoding="utf-8")) == card
    saved = load_file(str(tmp_path / "tiny.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    other = write_card("tiny2", model, {}, tmp_path, timing=timing, record=("parameters", "seconds"))
    assert other["parameters"] == card["params"] and other["seconds"] == 12.3


@pytest.mark.parametrize(
    ("card", "record", "match"),
    [
        ({"name": "x"}, (), "leave"),
        ({"params": 1}, ("params",), "leave"),
        ({}, ("flops",), "unknown"),
        ({}, ("torch", "torch"), "twice"),
    ],
)
def test_write_card_rejects_clashes(tmp_path: Path, card: dict, record: tuple[str, ...], match: str) -> None:
    timing = Stopwatch().read()
    with pytest.raises(ValueError, match=match):
        write_card("tiny", nn.Linear(1, 1), card, tmp_path, timing=timing, record=record)
    assert not (tmp_path / "tiny.json").exists()
