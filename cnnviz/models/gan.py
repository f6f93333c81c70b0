"""A DCGAN trained on scikit-learn's digits: a generator and a discriminator that learn against each other.

The lecture's image generation: the generator (생성자) turns a latent vector ``z`` into an image, the
discriminator (판별자) says how real an image looks, and the two are trained adversarially until the fakes
look real. DCGAN (Radford et al., 2015) builds both from convolutions:

==============  =======================  ==================  ==========
generator       layer                    output (C × H × W)  activation
==============  =======================  ==================  ==========
z               latent vector            32 × 1 × 1
deconv1         ConvTranspose 4×4 /1     64 × 4 × 4          BN, ReLU
deconv2         ConvTranspose 4×4 /2     32 × 8 × 8          BN, ReLU
deconv3         ConvTranspose 4×4 /2     16 × 16 × 16        BN, ReLU
deconv4         ConvTranspose 4×4 /2     1 × 32 × 32         tanh
==============  =======================  ==================  ==========

The discriminator mirrors it with strided convolutions (32×32 -> 16 -> 8 -> 4 -> 1 logit) and LeakyReLU.

Both live in one :class:`DCGAN` module (``.generator`` and ``.discriminator``), registered as ``"dcgan"``
with ``task="generation"``, so ``load("dcgan")`` loads both from one bundled file. ``model(z)`` runs the
generator: ``(N, 32)`` or ``(N, 32, 1, 1)`` latent vectors -> ``(N, 1, 32, 32)`` images in [-1, 1].
The spec's ``in_channels``, ``input_size`` and ``transform`` describe the *image* side (what the generator
makes and the discriminator judges), not the latent input: ``LoadedModel.preprocess(image)`` prepares a
picture the way the training digits were prepared, as the discriminator's ``(1, 1, 32, 32)`` input in
[-1, 1], and ``model_view`` shows it (mean 0.5, std 0.5 undo the scaling).

``python -m cnnviz.train dcgan`` trains both on the training split of the digits (the held-out split is
kept to measure the generator) and writes ``dcgan.safetensors``, the model card ``dcgan.json`` and
``dcgan.npz``: the generator's samples of one fixed set of latent vectors at a few epochs, plus the
per-epoch losses, so a page can show the generator learning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cnnviz.cpu import torch_threads
from cnnviz.data.digits import DIGITS_SEED, HELD_OUT_FRACTION, digit_grid, split_digits, upscale
from cnnviz.models.registry import BundledWeights, ModelSpec, register
from cnnviz.models.training import Batch, Stopwatch, fit, seeded, write_card
from cnnviz.weights import bundled_path

__all__ = [
    "DCGAN",
    "DCGAN_SPEC",
    "DEFAULT_EPOCHS",
    "IMAGE_SIZE",
    "LATENT_DIM",
    "SNAPSHOT_COUNT",
    "SNAPSHOT_SEED",
    "Discriminator",
    "GanDigitTransform",
    "GanOptimizers",
    "Generator",
    "Snapshots",
    "StepLosses",
    "digit_quality",
    "frechet_distance",
    "latent",
    "make_optimizers",
    "read_snapshots",
    "real_digits",
    "to_uint8",
    "train_dcgan",
    "train_step",
]

LATENT_DIM = 32
"""Length of the latent vector ``z``; the digits are simple, so 32 numbers are enough."""
IMAGE_SIZE = 32
DEFAULT_EPOCHS = 60
SNAPSHOT_SEED = 1234
"""Seed of the fixed latent vectors whose images are saved during training."""
SNAPSHOT_COUNT = 16
SEED = 0
_BATCH_SIZE = 64
_LEARNING_RATE = 2e-4
_BETAS = (0.5, 0.999)  # DCGAN's Adam settings: a lower beta1 keeps the adversarial game from oscillating
_REAL_LABEL = 0.9  # one-sided label smoothing: a discriminator never fully sure keeps giving gradients
_LEAK = 0.2
_EVAL_SAMPLES = 1000
_SNAPSHOT_EPOCHS = (0, 1, 2, 3, 5, 8, 12, 20, 30, 45)


# ------------------------------------------------------------------------------------------ the networks


class Generator(nn.Module):
    """The generator: transposed convolutions grow a 1×1 latent vector into a 32×32 image.

    ``(N, LATENT_DIM, 1, 1)`` (or ``(N, LATENT_DIM)``) -> ``(N, 1, 32, 32)`` in [-1, 1].
    """

    def __init__(self, latent_dim: int = LATENT_DIM, width: int = 16) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        # Biases are dropped before batch normalisation, which would subtract them again.
        self.deconv1 = nn.ConvTranspose2d(latent_dim, 4 * width, 4, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(4 * width)
        self.relu1 = nn.ReLU()
        self.deconv2 = nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.relu2 = nn.ReLU()
        self.deconv3 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU()
        self.deconv4 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)
        self.tanh = nn.Tanh()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        x = self.relu1(self.bn1(self.deconv1(z)))  # (N, 64, 4, 4)
        x = self.relu2(self.bn2(self.deconv2(x)))  # (N, 32, 8, 8)
        x = self.relu3(self.bn3(self.deconv3(x)))  # (N, 16, 16, 16)
        return self.tanh(self.deconv4(x))  # (N, 1, 32, 32)


class Discriminator(nn.Module):
    """The discriminator: strided convolutions shrink a 32×32 image to one logit, "how real".

    ``(N, 1, 32, 32)`` in [-1, 1] -> ``(N,)`` logits; ``sigmoid(logit)`` is the probability of "real".
    No batch normalisation: the discriminator sees batches of only-real and only-fake images, and its score
    of one image should not depend on the others in the batch.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 4, stride=2, padding=1)
        self.act1 = nn.LeakyReLU(_LEAK)
        self.conv2 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)
        self.act2 = nn.LeakyReLU(_LEAK)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1)
        self.act3 = nn.LeakyReLU(_LEAK)
        self.conv4 = nn.Conv2d(4 * width, 1, 4, stride=1, padding=0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.conv1(image))  # (N, 16, 16, 16)
        x = self.act2(self.conv2(x))  # (N, 32, 8, 8)
        x = self.act3(self.conv3(x))  # (N, 64, 4, 4)
        return self.conv4(x).flatten()  # (N, 1, 1, 1) -> (N,)


class DCGAN(nn.Module):
    """Generator and discriminator in one module, so one bundled file holds the pair.

    ``forward`` runs the generator; the discriminator is reached as ``model.discriminator``.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, g_width: int = 16, d_width: int = 16) -> None:
        super().__init__()
        self.generator = Generator(latent_dim, g_width)
        self.discriminator = Discriminator(d_width)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


@dataclass(frozen=True)
class GanDigitTransform:
    """A picture as the discriminator sees a training digit: the digits' 8×8 grid, upscaled, in [-1, 1].

    The same steps as LeNet-5's preprocessing (:func:`cnnviz.data.digits.digit_grid` then
    :func:`~cnnviz.data.digits.upscale`), scaled to the generator's tanh range.
    """

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Returns ``(1, 32, 32)`` float32 in [-1, 1]."""
        return upscale(digit_grid(image))[0] * 2.0 - 1.0


DCGAN_SPEC = register(
    ModelSpec(
        name="dcgan",
        family="GAN",
        task="generation",
        in_channels=1,
        input_size=(IMAGE_SIZE, IMAGE_SIZE),
        source="bundled",
        build=DCGAN,
        transform=GanDigitTransform(),
        categories=(),
        weight_source=BundledWeights("dcgan"),
        mean=(0.5,),
        std=(0.5,),
        year=2015,
        tags=("gan",),
    )
)


# ------------------------------------------------------------------------------------------- helpers


def latent(seed: int, count: int, latent_dim: int = LATENT_DIM) -> torch.Tensor:
    """``count`` latent vectors ``(count, latent_dim)`` from N(0, 1), drawn with ``seed``.

    The same seed gives the same vectors on every machine, so "seed 7" names the same digits everywhere;
    the global random state is untouched.

    Raises:
        ValueError: ``count`` or ``latent_dim`` is not positive.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(count, latent_dim, generator=generator)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output ``(N, 1, H, W)`` in [-1, 1] -> ``(N, H, W)`` uint8 (0 black, 255 bright ink)."""
    pixels = ((images.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round()
    return pixels.to(torch.uint8)[:, 0].cpu().numpy()


def real_digits(split: str = "train") -> torch.Tensor:
    """The digits the GAN learns from: ``(N, 1, 32, 32)`` float32 in [-1, 1].

    Args:
        split: ``"train"`` (the training split) or ``"held_out"`` (never seen in training).

    Raises:
        ValueError: ``split`` is neither.
    """
    if split not in ("train", "held_out"):
        raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
    digits = split_digits(DIGITS_SEED, HELD_OUT_FRACTION)
    grids = digits.train_grids if split == "train" else digits.held_out_grids
    return upscale(grids) * 2.0 - 1.0


@dataclass(frozen=True)
class StepLosses:
    """One adversarial training step.

    Attributes:
        d_loss: the discriminator's binary cross-entropy on the real and the fake batch (sum of both).
        g_loss: the generator's loss: cross-entropy of the discriminator calling its fakes real.
        d_real: mean probability the discriminator gave the real images of being real.
        d_fake: mean probability it gave the fakes (before its own update).
    """

    d_loss: float
    g_loss: float
    d_real: float
    d_fake: float


@dataclass
class GanOptimizers:
    """One Adam optimiser for each player."""

    generator: torch.optim.Optimizer
    discriminator: torch.optim.Optimizer


def make_optimizers(model: DCGAN, lr: float = _LEARNING_RATE) -> GanOptimizers:
    """DCGAN's Adam optimisers (learning rate 2e-4, betas (0.5, 0.999)) for both networks."""
    return GanOptimizers(
        generator=torch.optim.Adam(model.generator.parameters(), lr=lr, betas=_BETAS),
        discriminator=torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=_BETAS),
    )


def train_step(
    model: DCGAN, optimizers: GanOptimizers, real: torch.Tensor, generator: torch.Generator
) -> StepLosses:
    """One round of the adversarial game on a batch of real images ``(N, 1, 32, 32)`` in [-1, 1].

    First the discriminator learns to call ``real`` real and fresh fakes fake, then the generator learns to
    make the discriminator call its fakes real (the non-saturating loss of Goodfellow et al.). Both networks
    are left in train mode.
    """
    model.train()
    n = real.shape[0]
    z = torch.randn(n, model.latent_dim, generator=generator)
    fake = model.generator(z)

    real_logits = model.discriminator(real)
    # The fakes are detached here: this step only moves the discriminator.
    fake_logits = model.discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, _REAL_LABEL)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    optimizers.discriminator.zero_grad(set_to_none=True)
    d_loss.backward()
    optimizers.discriminator.step()

    fooled_logits = model.discriminator(fake)
    g_loss = F.binary_cross_entropy_with_logits(fooled_logits, torch.ones_like(fooled_logits))
    optimizers.generator.zero_grad(set_to_none=True)
    g_loss.backward()
    optimizers.generator.step()
    # The generator's backward pass also left gradients on the discriminator; drop them so the model holds
    # no stale gradients between steps.
    optimizers.discriminator.zero_grad(set_to_none=True)
    return StepLosses(
        d_loss=float(d_loss.detach()),
        g_loss=float(g_loss.detach()),
        d_real=float(torch.sigmoid(real_logits.detach()).mean()),
        d_fake=float(torch.sigmoid(fake_logits.detach()).mean()),
    )


# --------------------------------------------------------------------------------- measuring the digits


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors ``(N, D)`` and ``(M, D)``.

    ``|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^½)``, the formula of FID, here in LeNet-5's feature space.
    """
    from scipy import linalg

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must be (N, D) and (M, D), got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)  # tiny imaginary parts come from rounding
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


@torch.no_grad()
def digit_quality(images: torch.Tensor, reference: torch.Tensor) -> dict[str, Any]:
    """How digit-like generated ``images`` are, judged by the bundled LeNet-5.

    Args:
        images: ``(N, 1, 32, 32)`` in [-1, 1] (generator output).
        reference: real digits ``(M, 1, 32, 32)`` in [-1, 1] (the held-out split).

    Returns:
        ``lenet_frechet``: Fréchet distance between the images and the reference in LeNet-5's 84-wide
        ``fc1`` features (lower is closer to real digits); ``lenet_confidence``: mean top softmax probability;
        ``class_shares``: share of the images LeNet-5 reads as each digit 0..9 (a GAN that collapsed onto few
        modes shows it here).
    """
    from cnnviz.hooks import capture
    from cnnviz.models.registry import load

    lenet = load("lenet5").model

    def features(batch: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        with capture(lenet, ["tanh4"]) as cap:
            logits = lenet((batch + 1.0) / 2.0)  # LeNet-5 reads digits in [0, 1]
        return cap.activations["tanh4"].numpy(), logits

    fake_features, logits = features(images)
    real_features, _ = features(reference)
    probabilities = torch.softmax(logits, dim=1)
    shares = torch.bincount(probabilities.argmax(dim=1), minlength=10).float() / len(images)
    return {
        "lenet_frechet": round(frechet_distance(fake_features, real_features), 3),
        "lenet_confidence": round(float(probabilities.max(dim=1).values.mean()), 4),
        "class_shares": [round(float(s), 4) for s in shares],
    }


# ------------------------------------------------------------------------------------------ snapshots


@dataclass(frozen=True)
class Snapshots:
    """What training recorded: the generator's images of fixed latent vectors at a few epochs, and losses.

    Attributes:
        epochs: ``(S,)`` the epoch after which each snapshot was taken (0: before training).
        images: ``(S, K, 32, 32)`` uint8, the same K latent vectors (seed :data:`SNAPSHOT_SEED`) each time.
        loss_epochs: ``(E,)`` epochs 1..E.
        d_loss: ``(E,)`` mean discriminator loss per epoch.
        g_loss: ``(E,)`` mean generator loss per epoch.
        d_real: ``(E,)`` mean probability the discriminator gave real digits.
        d_fake: ``(E,)`` mean probability it gave the generator's fakes.
    """

    epochs: np.ndarray
    images: np.ndarray
    loss_epochs: np.ndarray
    d_loss: np.ndarray
    g_loss: np.ndarray
    d_real: np.ndarray
    d_fake: np.ndarray


def read_snapshots(name: str = "dcgan", directory: str | Path | None = None) -> Snapshots:
    """The snapshots ``NAME.npz`` written by :func:`train_dcgan`.

    Raises:
        FileNotFoundError: the file is missing (the GAN was never trained).
    """
    path = bundled_path(name, ".npz", directory)
    with np.load(path) as data:
        return Snapshots(
            epochs=data["epochs"],
            images=data["images"],
            loss_epochs=data["loss_epochs"],
            d_loss=data["d_loss"],
            g_loss=data["g_loss"],
            d_real=data["d_real"],
            d_fake=data["d_fake"],
        )


@torch.no_grad()
def _snapshot(model: DCGAN, z: torch.Tensor) -> np.ndarray:
    # Train-mode batch normalisation would use this batch's statistics; the page shows eval mode.
    was_training = model.training
    model.eval()
    try:
        return to_uint8(model.generator(z))
    finally:
        model.train(was_training)


# ------------------------------------------------------------------------------------------- training


def train_dcgan(epochs: int | None, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Train the DCGAN on the digits; write ``dcgan.safetensors``, ``dcgan.json`` and ``dcgan.npz``.

    Deterministic for a given machine: initial weights, batch order and latent vectors follow :data:`SEED`;
    the global random state is left as it was. Runs on one thread (the network is small and the machine's
    cores are shared).

    Args:
        epochs: passes over the training digits (default :data:`DEFAULT_EPOCHS`).
        out_dir: folder for the weights, the model card and the snapshots.
        progress: print one line per epoch to stderr.

    Returns:
        The model card as written.

    Raises:
        ValueError: ``epochs`` is not positive.
    """
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    with torch_threads(1):
        return _train(epochs, Path(out_dir), progress)


def _snapshot_epochs(epochs: int) -> list[int]:
    return sorted({e for e in _SNAPSHOT_EPOCHS if e < epochs} | {epochs})


def _train(epochs: int, out_dir: Path, progress: bool) -> dict[str, Any]:
    watch = Stopwatch()
    real = real_digits("train")
    held_out = real_digits("held_out")
    # Built before fit, to measure the untrained generator; fit trains this very model.
    model = seeded(SEED, DCGAN)
    # The shuffles and the latent vectors draw from one generator of their own.
    generator = torch.Generator().manual_seed(SEED)
    fixed_z = latent(SNAPSHOT_SEED, SNAPSHOT_COUNT)
    untrained_quality = digit_quality(_generate(model, latent(SEED + 1, _EVAL_SAMPLES)), held_out)

    snapshot_at = set(_snapshot_epochs(epochs))
    snap_epochs: list[int] = [0]
    snap_images: list[np.ndarray] = [_snapshot(model, fixed_z)]

    def step(model: DCGAN, optimizers: GanOptimizers, batch: Batch) -> dict[str, float]:
        return dataclasses.asdict(train_step(model, optimizers, real[batch.index], generator))

    def after_epoch(model: DCGAN, epoch: int) -> None:
        if epoch in snapshot_at:
            snap_epochs.append(epoch)
            snap_images.append(_snapshot(model, fixed_z))

    fitted = fit(
        lambda: model,
        size=len(real),
        batch_size=_BATCH_SIZE,
        epochs=epochs,
        seed=SEED,
        optimizer=make_optimizers,
        step=step,
        drop_last=True,  # a last batch of a few images gives the batch statistics a jolt
        generator=generator,
        on_epoch=after_epoch,
        name="dcgan",
        progress=progress,
    )
    history, steps = fitted.epoch_losses, fitted.steps
    model.eval()
    generated = _generate(model, latent(SEED + 1, _EVAL_SAMPLES))
    quality = digit_quality(generated, held_out)
    train_quality = digit_quality(real, held_out)
    with torch.no_grad():
        d_held_out = float(torch.sigmoid(model.discriminator(held_out)).mean())
        d_generated = float(torch.sigmoid(model.discriminator(generated)).mean())
    timing = watch.read()

    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        bundled_path("dcgan", ".npz", out_dir),
        epochs=np.asarray(snap_epochs, dtype=np.int32),
        images=np.stack(snap_images),
        loss_epochs=np.arange(1, epochs + 1, dtype=np.int32),
        d_loss=np.asarray(history["d_loss"], dtype=np.float32),
        g_loss=np.asarray(history["g_loss"], dtype=np.float32),
        d_real=np.asarray(history["d_real"], dtype=np.float32),
        d_fake=np.asarray(history["d_fake"], dtype=np.float32),
    )
    bundled_path("dcgan", ".npz", out_dir).chmod(0o644)
    card = {
        "architecture": (
            f"DCGAN. Generator: z {LATENT_DIM}×1×1 -> ConvTranspose 4×4/1 64 (BN, ReLU) 4×4 -> "
            "ConvTranspose 4×4/2 32 (BN, ReLU) 8×8 -> ConvTranspose 4×4/2 16 (BN, ReLU) 16×16 -> "
            "ConvTranspose 4×4/2 1, tanh 32×32. Discriminator: Conv 4×4/2 16 -> 32 -> 64 (LeakyReLU 0.2) "
            "-> Conv 4×4 1 logit"
        ),
        "task": "generation",
        "parameters": {
            "generator": sum(p.numel() for p in model.generator.parameters()),
            "discriminator": sum(p.numel() for p in model.discriminator.parameters()),
        },
        "data": (
            "scikit-learn digits (UCI optdigits), training split: 8×8 grids of ink counts scaled to [0, 1], "
            "upscaled bilinearly to 32×32 and mapped to [-1, 1] (the generator's tanh range)"
        ),
        "split": {
            "seed": DIGITS_SEED,
            "held_out_fraction": HELD_OUT_FRACTION,
            "train": len(real),
            "held_out": len(held_out),
        },
        "training": (
            f"Adam lr {_LEARNING_RATE:g}, betas {_BETAS}, batch {_BATCH_SIZE}, binary cross-entropy on "
            f"logits, real label {_REAL_LABEL} (one-sided smoothing), non-saturating generator loss, "
            "one discriminator step then one generator step per batch"
        ),
        "seed": SEED,
        "epochs": epochs,
        "steps": steps,
        "evaluation": (
            f"{_EVAL_SAMPLES} generated digits (latent seed {SEED + 1}, eval mode) judged by the bundled "
            "LeNet-5: Fréchet distance to the held-out digits in its 84-wide fc1 features (FID's formula; "
            "lower is closer), mean top softmax probability, share read as each digit"
        ),
        "held_out_lenet_frechet": quality["lenet_frechet"],
        "lenet_frechet_untrained_generator": untrained_quality["lenet_frechet"],
        "lenet_frechet_real_train_digits": train_quality["lenet_frechet"],
        "lenet_confidence": quality["lenet_confidence"],
        "lenet_confidence_real_train_digits": train_quality["lenet_confidence"],
        "class_shares": quality["class_shares"],
        "discriminator_mean_score": {
            "held_out_real": round(d_held_out, 4),
            "generated": round(d_generated, 4),
        },
        "snapshots": {
            "file": "dcgan.npz",
            "epochs": snap_epochs,
            "latent_seed": SNAPSHOT_SEED,
            "count": SNAPSHOT_COUNT,
        },
    }
    record = ("date", "torch", "python", "threads", "seconds")
    return write_card("dcgan", model, card, out_dir, timing=timing, record=record)


@torch.no_grad()
def _generate(model: DCGAN, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model.generator(z[i : i + batch_size]) for i in range(0, len(z), batch_size)])
    finally:
        model.train(was_training)
