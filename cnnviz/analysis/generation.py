"""A GAN's generator and discriminator at work: samples, a walk through latent space, scores, live training.

Everything here runs the bundled DCGAN (:mod:`cnnviz.models.gan`) and returns small frozen dataclasses of
numpy arrays for the page:

- :func:`sample`: the generator's digits for the latent vectors of one seed, with the discriminator's score;
- :func:`latent_walk`: images along a path between two latent vectors (the generator turns nearby ``z``
  into similar digits, so the walk morphs one digit into another);
- :func:`discriminator_scores`: how real the discriminator finds real held-out digits, generated digits and
  the person's own picture;
- :func:`generator_layers`: the generator's layers and their feature maps from a real captured forward pass,
  growing from the 1×1 latent vector to the 32×32 image;
- :func:`training_snapshots`: the images saved while the bundled GAN was trained;
- :func:`live_training`: a few adversarial steps on a *copy*, yielded step by step for a progress bar.

``model`` arguments take the :class:`~cnnviz.models.LoadedModel` of ``"dcgan"`` (or a bare
:class:`~cnnviz.models.gan.DCGAN`). The cached model is shared by all sessions: it is only run in eval mode
under its lock, never trained.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image

from cnnviz.cpu import torch_threads
from cnnviz.hooks import capture, model_lock
from cnnviz.models import LoadedModel
from cnnviz.models.gan import (
    DCGAN,
    GanDigitTransform,
    Snapshots,
    latent,
    make_optimizers,
    read_snapshots,
    real_digits,
    to_uint8,
    train_step,
)

__all__ = [
    "LIVE_LEARNING_RATE",
    "MAX_LIVE_STEPS",
    "MAX_SAMPLES",
    "DiscriminatorScores",
    "GeneratedDigits",
    "GeneratorLayer",
    "GeneratorLayers",
    "LatentWalk",
    "LiveLog",
    "LiveStep",
    "discriminator_scores",
    "generator_layers",
    "latent_walk",
    "live_training",
    "sample",
    "slerp",
    "training_snapshots",
]

WalkMode = Literal["linear", "spherical"]
LiveStart = Literal["scratch", "bundled"]
MAX_SAMPLES = 256
MAX_LIVE_STEPS = 2000
LIVE_LEARNING_RATE = 5e-4


def _gan(model: LoadedModel | DCGAN) -> DCGAN:
    net = model.model if isinstance(model, LoadedModel) else model
    if not isinstance(net, DCGAN):
        raise TypeError(f"model must be the DCGAN (or its LoadedModel), got {type(net).__name__}")
    return net


def _check_count(name: str, value: int, high: int) -> None:
    if not 1 <= value <= high:
        raise ValueError(f"{name} must be between 1 and {high}, got {value}")


@torch.no_grad()
def _run_eval(net: DCGAN, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Generator images ``(N, 1, 32, 32)`` and discriminator probabilities ``(N,)`` in eval mode, locked."""
    with model_lock(net):
        was_training = net.training
        net.eval()
        try:
            images = net.generator(z)
            scores = torch.sigmoid(net.discriminator(images))
        finally:
            net.train(was_training)
    return images, scores


# ---------------------------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class GeneratedDigits:
    """The generator's images for the latent vectors of one seed.

    Attributes:
        seed: the seed the latent vectors were drawn with.
        latent: ``(N, Z)`` float32, the latent vectors.
        images: ``(N, 32, 32)`` uint8 (bright ink on black).
        scores: ``(N,)`` the discriminator's probability that each image is real.
    """

    seed: int
    latent: np.ndarray = field(repr=False)
    images: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)


def sample(model: LoadedModel | DCGAN, seed: int, count: int = 16) -> GeneratedDigits:
    """``count`` digits from the latent vectors :func:`cnnviz.models.gan.latent` draws with ``seed``.

    Raises:
        ValueError: ``count`` is not between 1 and 256.
    """
    _check_count("count", count, MAX_SAMPLES)
    net = _gan(model)
    z = latent(seed, count, net.latent_dim)
    images, scores = _run_eval(net, z)
    return GeneratedDigits(seed=int(seed), latent=z.numpy(), images=to_uint8(images), scores=scores.numpy())


# ------------------------------------------------------------------------------------------ latent walk


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two vectors ``(Z,)`` at fractions ``t`` ``(S,)`` -> ``(S, Z)``.

    Random Gaussian vectors lie near a sphere; a straight line between two of them passes closer to the
    centre, where the generator saw few vectors in training. Moving along the great circle keeps the length
    typical. Nearly parallel vectors fall back to the straight line.
    """
    t = t.reshape(-1, 1)
    cos = torch.dot(a / a.norm(), b / b.norm()).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if float(torch.sin(omega)) < 1e-6:
        return (1.0 - t) * a + t * b
    return (torch.sin((1.0 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@dataclass(frozen=True)
class LatentWalk:
    """Images along a path between two latent vectors.

    Attributes:
        seed_a: seed of the start vector (the first vector that seed draws).
        seed_b: seed of the end vector.
        mode: ``"linear"`` (a straight line) or ``"spherical"`` (a great circle, see :func:`slerp`).
        fractions: ``(S,)`` position of each image on the path, 0 (start) to 1 (end).
        images: ``(S, 32, 32)`` uint8.
        scores: ``(S,)`` the discriminator's probability that each image is real.
        norms: ``(S,)`` length of each latent vector divided by √Z, about 1 for a typical random vector (the
            straight line dips below that in the middle).
    """

    seed_a: int
    seed_b: int
    mode: WalkMode
    fractions: np.ndarray = field(repr=False)
    images: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    norms: np.ndarray = field(repr=False)


def latent_walk(
    model: LoadedModel | DCGAN, seed_a: int, seed_b: int, steps: int = 9, mode: WalkMode = "spherical"
) -> LatentWalk:
    """Walk from the latent vector of ``seed_a`` to that of ``seed_b`` in ``steps`` images (ends included).

    Raises:
        ValueError: ``steps`` is not between 2 and 256, or ``mode`` is unknown.
    """
    if not 2 <= steps <= MAX_SAMPLES:
        raise ValueError(f"steps must be between 2 and {MAX_SAMPLES}, got {steps}")
    if mode not in ("linear", "spherical"):
        raise ValueError(f"mode must be 'linear' or 'spherical', got {mode!r}")
    net = _gan(model)
    a = latent(seed_a, 1, net.latent_dim)[0]
    b = latent(seed_b, 1, net.latent_dim)[0]
    t = torch.linspace(0.0, 1.0, steps)
    z = slerp(a, b, t) if mode == "spherical" else (1.0 - t[:, None]) * a + t[:, None] * b
    images, scores = _run_eval(net, z)
    return LatentWalk(
        seed_a=int(seed_a),
        seed_b=int(seed_b),
        mode=mode,
        fractions=t.numpy(),
        images=to_uint8(images),
        scores=scores.numpy(),
        norms=(z.norm(dim=1) / net.latent_dim**0.5).numpy(),
    )


# ------------------------------------------------------------------------------------------ discriminator


@functools.lru_cache(maxsize=2)
def _digits(split: str) -> torch.Tensor:
    # Loading the digits imports scikit-learn (seconds); the page asks for them on every rerun.
    digits = real_digits(split)
    digits.requires_grad_(False)
    return digits


@dataclass(frozen=True)
class DiscriminatorScores:
    """The discriminator's probability of "real" for real and generated digits (and one picture).

    Attributes:
        real_images: ``(N, 32, 32)`` uint8 held-out digits (never seen in training).
        real: ``(N,)`` their scores.
        fake_images: ``(N, 32, 32)`` uint8 generated digits (the latent vectors of ``seed``).
        fake: ``(N,)`` their scores.
        seed: the seed of the generated digits.
        picture: the score of the person's picture, prepared like a training digit; None without one.
        picture_view: ``(32, 32)`` uint8, the picture as the discriminator sees it; None without one.
    """

    real_images: np.ndarray = field(repr=False)
    real: np.ndarray = field(repr=False)
    fake_images: np.ndarray = field(repr=False)
    fake: np.ndarray = field(repr=False)
    seed: int
    picture: float | None
    picture_view: np.ndarray | None = field(repr=False)


def discriminator_scores(
    model: LoadedModel | DCGAN, seed: int, count: int = 32, image: Image.Image | None = None
) -> DiscriminatorScores:
    """Score ``count`` held-out real digits, ``count`` generated digits (seed ``seed``) and ``image``.

    The real digits are the first ``count`` of the held-out split, so the same ones every time.

    Raises:
        ValueError: ``count`` is not between 1 and 256.
    """
    _check_count("count", count, MAX_SAMPLES)
    net = _gan(model)
    held_out = _digits("held_out")[:count]
    generated = sample(net, seed, count)
    picture: float | None = None
    view: np.ndarray | None = None
    batch = held_out
    if image is not None:
        prepared = GanDigitTransform()(image.convert("L")).unsqueeze(0)
        batch = torch.cat([held_out, prepared])
        view = to_uint8(prepared)[0]
    with torch.no_grad(), model_lock(net):
        scores = torch.sigmoid(net.discriminator(batch))
    if image is not None:
        picture = float(scores[-1])
        scores = scores[:-1]
    return DiscriminatorScores(
        real_images=to_uint8(held_out),
        real=scores.numpy(),
        fake_images=generated.images,
        fake=generated.scores,
        seed=int(seed),
        picture=picture,
        picture_view=view,
    )


# ------------------------------------------------------------------------------------- generator layers


@dataclass(frozen=True)
class GeneratorLayer:
    """One layer of the generator as a real forward pass ran it.

    Attributes:
        name: module name in the generator, e.g. ``"deconv2"``.
        kind: the module's class, e.g. ``"ConvTranspose2d"``.
        output_shape: ``(C, H, W)`` of its output.
        params: number of parameters.
        kernel_size: ``(kh, kw)`` for (transposed) convolutions, else None.
        stride: ``(sh, sw)`` for (transposed) convolutions, else None.
        padding: ``(ph, pw)`` for (transposed) convolutions, else None.
    """

    name: str
    kind: str
    output_shape: tuple[int, int, int]
    params: int
    kernel_size: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None


@dataclass(frozen=True)
class GeneratorLayers:
    """The generator's layers and their feature maps for one latent vector.

    Attributes:
        seed: seed of the latent vector (the first vector it draws).
        latent_shape: ``(Z, 1, 1)``, the input.
        layers: every layer in the order it ran.
        maps: layer name -> ``(C, H, W)`` float32 feature map.
        image: ``(32, 32)`` uint8, the generated image.
    """

    seed: int
    latent_shape: tuple[int, int, int]
    layers: tuple[GeneratorLayer, ...]
    maps: dict[str, np.ndarray] = field(repr=False)
    image: np.ndarray = field(repr=False)


def _pair(value: object) -> tuple[int, int] | None:
    if isinstance(value, tuple) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    return None


def generator_layers(model: LoadedModel | DCGAN, seed: int = 0) -> GeneratorLayers:
    """Run the generator on the first latent vector of ``seed`` with every layer captured."""
    net = _gan(model)
    generator = net.generator
    z = latent(seed, 1, net.latent_dim)[:, :, None, None]
    with torch.no_grad(), model_lock(net):
        was_training = net.training
        net.eval()
        try:
            with capture(generator) as cap:
                image = generator(z)
        finally:
            net.train(was_training)
    modules = dict(generator.named_modules())
    layers = []
    maps = {}
    for call in cap.order:
        module = modules[call.name]
        activation = cap.activations[call.name]
        c, h, w = (int(s) for s in activation.shape[1:])
        layers.append(
            GeneratorLayer(
                name=call.name,
                kind=type(module).__name__,
                output_shape=(c, h, w),
                params=sum(p.numel() for p in module.parameters()),
                kernel_size=_pair(getattr(module, "kernel_size", None)),
                stride=_pair(getattr(module, "stride", None)),
                padding=_pair(getattr(module, "padding", None)),
            )
        )
        maps[call.name] = activation[0].float().numpy()
    return GeneratorLayers(
        seed=int(seed),
        latent_shape=(net.latent_dim, 1, 1),
        layers=tuple(layers),
        maps=maps,
        image=to_uint8(image)[0],
    )


# ----------------------------------------------------------------------------------------- snapshots


def training_snapshots(name: str = "dcgan") -> Snapshots:
    """The images and losses saved while the bundled GAN was trained (``cnnviz/models/bundled/NAME.npz``).

    Raises:
        FileNotFoundError: the GAN was never trained.
    """
    return read_snapshots(name)


# ------------------------------------------------------------------------------------------ live training


@dataclass(frozen=True)
class LiveStep:
    """One step of live training.

    Attributes:
        step: steps done (1..steps).
        steps: steps asked for.
        d_loss: the discriminator's loss this step.
        g_loss: the generator's loss this step.
        d_real: mean probability the discriminator gave the real batch.
        d_fake: mean probability it gave the fakes.
        images: ``(K, 32, 32)`` uint8, the copy's images of fixed latent vectors (eval mode); only every
            ``every`` steps and at the last step, else None.
        seconds: time since training started.
    """

    step: int
    steps: int
    d_loss: float
    g_loss: float
    d_real: float
    d_fake: float
    images: np.ndarray | None = field(repr=False)
    seconds: float

    @property
    def done(self) -> bool:
        """Whether this is the last step."""
        return self.step >= self.steps


@dataclass
class LiveLog:
    """A live-training run as the page keeps it between reruns: every step's numbers and the last images.

    Attributes:
        steps: steps asked for.
        step: steps done so far.
        seconds: time the run took so far.
        images: the newest ``(K, 32, 32)`` images, and ``image_step`` the step they are from.
        d_loss, g_loss, d_real, d_fake: one value per step done.
    """

    steps: int
    step: int = 0
    seconds: float = 0.0
    images: np.ndarray | None = field(default=None, repr=False)
    image_step: int = 0
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)

    def add(self, live: LiveStep) -> None:
        """Records one step (in order)."""
        if live.step != self.step + 1:
            raise ValueError(f"steps must come in order: expected step {self.step + 1}, got {live.step}.")
        self.step, self.seconds = live.step, live.seconds
        for name in ("d_loss", "g_loss", "d_real", "d_fake"):
            getattr(self, name).append(float(getattr(live, name)))
        if live.images is not None:
            self.images, self.image_step = live.images, live.step

    @property
    def done(self) -> bool:
        """Whether every step asked for ran (else it was stopped or is still running)."""
        return self.step >= self.steps


def live_training(
    steps: int,
    *,
    start: LiveStart = "scratch",
    model: LoadedModel | DCGAN | None = None,
    seed: int = 0,
    batch_size: int = 64,
    every: int = 10,
    count: int = 16,
    learning_rate: float = LIVE_LEARNING_RATE,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = 1,
) -> Iterator[LiveStep]:
    """Train a copy of the DCGAN for ``steps`` adversarial steps on the digits, yielding every step.

    Args:
        steps: adversarial steps (each one discriminator and one generator update on ``batch_size`` digits).
        start: ``"scratch"``: fresh weights drawn with ``seed``; ``"bundled"``: a copy of ``model``.
        model: the loaded DCGAN, needed for ``start="bundled"``; it is copied, never changed.
        seed: seed of the fresh weights, the batches, the training noise and the shown latent vectors.
        batch_size: real digits per step.
        every: how often (in steps) the copy's images are drawn.
        count: how many images are drawn.
        learning_rate: Adam's step size for both players; larger than the bundled training's 2e-4, so that
            digit-like shapes appear within the 100-200 steps a lecture can wait for.
        should_stop: called before every step; training ends when it returns True.
        threads: torch's CPU threads while a step computes (restored after it); None leaves them. One by
            default: the networks are small, and on a busy machine threads that wait for each other are slow.

    Yields:
        A :class:`LiveStep` after each step.

    Raises:
        ValueError: an argument is out of range, or ``start="bundled"`` without ``model``.
    """
    _check_count("steps", steps, MAX_LIVE_STEPS)
    _check_count("batch_size", batch_size, 512)
    _check_count("every", every, MAX_LIVE_STEPS)
    _check_count("count", count, MAX_SAMPLES)
    if start not in ("scratch", "bundled"):
        raise ValueError(f"start must be 'scratch' or 'bundled', got {start!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 or None, got {threads}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if start == "bundled":
        if model is None:
            raise ValueError("start='bundled' needs the loaded model to copy")
        source = _gan(model)
        with model_lock(source):
            net = copy.deepcopy(source)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = DCGAN()
    net.requires_grad_(True)
    optimizers = make_optimizers(net, lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    real = _digits("train")
    shown_z = latent(seed, count, net.latent_dim)
    started = time.perf_counter()
    order = torch.randperm(len(real), generator=generator)
    position = 0
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            return
        if position + batch_size > len(order):  # a new pass over the digits, in a new order
            order = torch.randperm(len(real), generator=generator)
            position = 0
        batch = real[order[position : position + batch_size]]
        position += batch_size
        images = None
        with torch_threads(threads):
            losses = train_step(net, optimizers, batch, generator)
            if step % every == 0 or step == steps:
                images = to_uint8(_run_eval(net, shown_z)[0])
        yield LiveStep(
            step=step,
            steps=steps,
            d_loss=losses.d_loss,
            g_loss=losses.g_loss,
            d_real=losses.d_real,
            d_fake=losses.d_fake,
            images=images,
            seconds=time.perf_counter() - started,
        )
