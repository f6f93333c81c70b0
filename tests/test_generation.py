"""The DCGAN (cnnviz.models.gan) and what the Generation page computes with it (cnnviz.analysis.generation).

Checked against direct computations: the generator's shapes against the transposed-convolution size formula,
scores against sigmoid(D(x)) run by hand, the latent walk against its end points, the Fréchet distance against
closed forms.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg
from torchvision.models.feature_extraction import create_feature_extractor

from cnnviz import models
from cnnviz.analysis import generation
from cnnviz.models import gan
from cnnviz.weights import BUNDLED_DIR, read_card


@pytest.fixture(scope="module")
def dcgan() -> models.LoadedModel:
    return models.load("dcgan")


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy written out: -(y log p + (1 - y) log(1 - p)) averaged, p = sigmoid(logit)."""
    p = 1.0 / (1.0 + torch.exp(-logits))
    return -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p)).mean()


def _adam(params, lr: float) -> torch.optim.Adam:
    # DCGAN's optimiser (Radford et al.: Adam, beta1 0.5), as the card's "training" line states it.
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


def _step_by_hand(net: gan.DCGAN, real: torch.Tensor, z: torch.Tensor, lr: float) -> dict[str, float]:
    """One adversarial step on `net` (changed in place) with the losses written out in the test.

    The discriminator's targets are 0.9 for real (one-sided label smoothing, as the card says) and 0 for
    fakes; the generator's loss is -log D(G(z)) with the discriminator already updated.
    """
    net.train()
    d_opt, g_opt = _adam(net.discriminator.parameters(), lr), _adam(net.generator.parameters(), lr)
    fake = net.generator(z)
    real_logits = net.discriminator(real)
    fake_logits = net.discriminator(fake.detach())
    d_loss = _bce(real_logits, 0.9) + _bce(fake_logits, 0.0)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    g_loss = _bce(net.discriminator(fake), 1.0)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    return {
        "d_loss": float(d_loss.detach()),
        "g_loss": float(g_loss.detach()),
        "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
        "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
    }


def _frechet_by_eigh(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance by another route than cnnviz's sqrtm(S_a S_b): tr((S_a^½ S_b S_a^½)^½) from the
    eigenvalues of a symmetric matrix, means and covariances written out."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = (a - mu_a).T @ (a - mu_a) / (len(a) - 1)
    cov_b = (b - mu_b).T @ (b - mu_b) / (len(b) - 1)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    cross = np.sqrt(np.clip(eig, 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


# ------------------------------------------------------------------------------------------ the networks


def test_registered_as_generation_model(dcgan: models.LoadedModel) -> None:
    spec = models.get_spec("dcgan")
    assert spec.task == "generation"
    assert spec.source == "bundled"
    assert [s.name for s in models.list_specs("generation")] == ["dcgan"]
    assert dcgan.weights == "bundled"
    assert isinstance(dcgan.model, gan.DCGAN)
    assert not dcgan.model.training


@pytest.mark.parametrize("count", [1, 5])
def test_generator_output_shape_and_range(dcgan: models.LoadedModel, count: int) -> None:
    z = gan.latent(3, count)
    with torch.no_grad():
        flat = dcgan.model(z)
        square = dcgan.model(z[:, :, None, None])
    assert flat.shape == (count, 1, 32, 32)
    assert torch.equal(flat, square)
    assert float(flat.min()) >= -1.0 and float(flat.max()) <= 1.0
    # A trained generator uses the range: ink (bright) and background (dark) both appear.
    assert float(flat.max()) > 0.5 and float(flat.min()) < -0.5


def test_untrained_generator_shape_and_range() -> None:
    net = models.load("dcgan", pretrained=False).model
    with torch.no_grad():
        out = net(torch.randn(4, gan.LATENT_DIM) * 10)  # large inputs: tanh still bounds the output
    assert out.shape == (4, 1, 32, 32)
    assert float(out.abs().max()) <= 1.0


def test_discriminator_gives_one_logit_per_image(dcgan: models.LoadedModel) -> None:
    with torch.no_grad():
        logits = dcgan.model.discriminator(torch.zeros(6, 1, 32, 32))
    assert logits.shape == (6,)


def test_preprocess_prepares_a_picture_like_a_training_digit(dcgan: models.LoadedModel) -> None:
    picture = Image.fromarray(np.kron(np.eye(8, dtype=np.uint8) * 255, np.ones((4, 4), np.uint8)))
    x = dcgan.preprocess(picture)
    assert x.shape == (1, 1, 32, 32)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    view = dcgan.model_view(picture)
    assert view.shape == (32, 32, 1) and view.dtype == np.uint8
    np.testing.assert_allclose(view[..., 0] / 255.0, ((x[0, 0] + 1) / 2).numpy(), atol=1 / 255)


def test_latent_is_seeded_and_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = gan.latent(5, 3)
    b = gan.latent(5, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, gan.latent(6, 3))
    assert a.shape == (3, gan.LATENT_DIM)
    assert torch.equal(torch.rand(1), expected_next)
    with pytest.raises(ValueError, match="count"):
        gan.latent(0, 0)


# ------------------------------------------------------------------------------------------ samples


def test_sample_matches_a_direct_computation(dcgan: models.LoadedModel) -> None:
    result = generation.sample(dcgan, seed=11, count=6)
    with torch.no_grad():
        images = dcgan.model.generator(gan.latent(11, 6))
        scores = torch.sigmoid(dcgan.model.discriminator(images))
    expected = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()
    np.testing.assert_array_equal(result.images, expected)
    np.testing.assert_allclose(result.scores, scores.numpy(), rtol=1e-6)
    assert result.images.shape == (6, 32, 32) and result.images.dtype == np.uint8
    assert ((result.scores > 0) & (result.scores < 1)).all()
    again = generation.sample(dcgan, seed=11, count=6)
    np.testing.assert_array_equal(again.images, result.images)
    with pytest.raises(ValueError, match="count"):
        generation.sample(dcgan, seed=0, count=0)


def test_sample_rejects_other_models() -> None:
    with pytest.raises(TypeError, match="DCGAN"):
        generation.sample(torch.nn.Linear(2, 2), seed=0)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------- latent walk


def test_slerp_against_hand_computed_values() -> None:
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 2.0])
    path = generation.slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[2], b)
    # Halfway along the great circle of two orthogonal vectors: sin(pi/4) (a + b) / sin(pi/2).
    torch.testing.assert_close(path[1], (a + b) * math.sin(math.pi / 4))
    # Parallel vectors fall back to the straight line.
    torch.testing.assert_close(generation.slerp(a, 3 * a, torch.tensor([0.5])), 2 * a[None])


@pytest.mark.parametrize("mode", ["spherical", "linear"])
def test_latent_walk_ends_at_the_two_seeds(dcgan: models.LoadedModel, mode: str) -> None:
    walk = generation.latent_walk(dcgan, 2, 9, steps=5, mode=mode)  # type: ignore[arg-type]
    assert walk.images.shape == (5, 32, 32)
    np.testing.assert_allclose(walk.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(walk.images[0], generation.sample(dcgan, 2, 1).images[0])
    np.testing.assert_array_equal(walk.images[-1], generation.sample(dcgan, 9, 1).images[0])
    za, zb = gan.latent(2, 1)[0], gan.latent(9, 1)[0]
    mid = (za + zb) / 2 if mode == "linear" else generation.slerp(za, zb, torch.tensor([0.5]))[0]
    assert walk.norms[2] == pytest.approx(float(mid.norm()) / math.sqrt(gan.LATENT_DIM), rel=1e-5)
    if mode == "linear":  # the straight line cuts through the middle of the sphere
        assert walk.norms[2] < min(walk.norms[0], walk.norms[-1])
    # The D(x) curve: the path written out in float64 here (great circle or straight line), then
    # sigmoid(D(G(z_t))) in eval mode.
    a, b = za.double().numpy(), zb.double().numpy()
    t = np.linspace(0.0, 1.0, 5)[:, None]
    if mode == "spherical":
        omega = np.arccos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    else:
        path = (1 - t) * a + t * b
    z_t = torch.from_numpy(path).float()
    with torch.no_grad():
        images = dcgan.model.generator(z_t)
        scores = torch.sigmoid(dcgan.model.discriminator(images)).numpy()
    np.testing.assert_allclose(walk.scores, scores, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        walk.norms, np.linalg.norm(path, axis=1) / math.sqrt(gan.LATENT_DIM), rtol=1e-5
    )
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round()[:, 0].numpy()
    assert np.abs(walk.images.astype(np.float64) - pixels).max() <= 1  # float32 vs float64 path: ±1 level


def test_latent_walk_rejects_bad_arguments(dcgan: models.LoadedModel) -> None:
    with pytest.raises(ValueError, match="steps"):
        generation.latent_walk(dcgan, 0, 1, steps=1)
    with pytest.raises(ValueError, match="mode"):
        generation.latent_walk(dcgan, 0, 1, mode="zigzag")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ discriminator


def test_discriminator_scores_match_a_direct_computation(dcgan: models.LoadedModel) -> None:
    picture = Image.new("RGB", (40, 40), "white")
    picture.paste((0, 0, 0), (15, 5, 25, 35))  # a dark "1" on white paper
    result = generation.discriminator_scores(dcgan, seed=4, count=10, image=picture)
    held_out = gan.real_digits("held_out")[:10]
    prepared = gan.GanDigitTransform()(picture.convert("L"))[None]
    with torch.no_grad():
        real = torch.sigmoid(dcgan.model.discriminator(held_out))
        mine = torch.sigmoid(dcgan.model.discriminator(prepared))
    np.testing.assert_allclose(result.real, real.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.fake, generation.sample(dcgan, 4, 10).scores, rtol=1e-5)
    assert result.picture == pytest.approx(float(mine[0]), rel=1e-5)
    assert result.picture_view is not None and result.picture_view.shape == (32, 32)
    assert result.real_images.shape == (10, 32, 32)
    without = generation.discriminator_scores(dcgan, seed=4, count=10)
    assert without.picture is None and without.picture_view is None
    np.testing.assert_allclose(without.real, result.real, rtol=1e-6)


# ---------------------------------------------------------------------------------- generator layers


def test_generator_layers_grow_from_1x1_to_32x32(dcgan: models.LoadedModel) -> None:
    result = generation.generator_layers(dcgan, seed=1)
    assert _hooks(dcgan.model) == 0
    assert result.latent_shape == (gan.LATENT_DIM, 1, 1)
    deconvs = [layer for layer in result.layers if layer.kind == "ConvTranspose2d"]
    assert [layer.name for layer in deconvs] == ["deconv1", "deconv2", "deconv3", "deconv4"]
    size = 1
    for layer in deconvs:
        assert layer.kernel_size is not None and layer.stride is not None and layer.padding is not None
        # Transposed convolution: O = (I - 1) * S - 2P + K.
        size = (size - 1) * layer.stride[0] - 2 * layer.padding[0] + layer.kernel_size[0]
        assert layer.output_shape[1:] == (size, size)
    assert [layer.output_shape[1] for layer in deconvs] == [4, 8, 16, 32]
    assert result.layers[-1].name == "tanh" and result.layers[-1].output_shape == (1, 32, 32)
    params = sum(layer.params for layer in result.layers)
    assert params == sum(p.numel() for p in dcgan.model.generator.parameters())
    # Each layer's count by the hand formula from its configuration: a transposed convolution has
    # C_in·C_out·kh·kw weights (+ C_out biases), batch normalisation a scale and a shift per channel.
    for layer in result.layers:
        module = dcgan.model.generator.get_submodule(layer.name)
        if isinstance(module, torch.nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            expected = module.in_channels * module.out_channels * kh * kw
            expected += module.out_channels if module.bias is not None else 0
        elif isinstance(module, torch.nn.BatchNorm2d):
            expected = 2 * module.num_features
        else:
            assert isinstance(module, torch.nn.ReLU | torch.nn.Tanh), layer.name
            expected = 0
        assert layer.params == expected, layer.name
    by_name = {layer.name: layer.params for layer in result.layers}
    # The card's architecture (z 32 -> 64 -> 32 -> 16 -> 1, 4×4 kernels; only the last layer has a bias).
    assert [by_name[f"deconv{i}"] for i in (1, 2, 3, 4)] == [
        32 * 64 * 16,
        64 * 32 * 16,
        32 * 16 * 16,
        16 * 16 + 1,
    ]
    assert [by_name[f"bn{i}"] for i in (1, 2, 3)] == [128, 64, 32]
    # The last map is the image itself.
    expected = ((torch.from_numpy(result.maps["tanh"][0]) + 1) * 127.5).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(result.image, expected)
    np.testing.assert_array_equal(result.image, generation.sample(dcgan, 1, 1).images[0])


# ---------------------------------------------------------------------------------------- live training


def test_live_training_trains_a_copy(dcgan: models.LoadedModel) -> None:
    before = _state(dcgan.model)
    threads = torch.get_num_threads()
    steps = list(generation.live_training(6, start="bundled", model=dcgan, batch_size=16, every=3, count=4))
    assert [s.step for s in steps] == [1, 2, 3, 4, 5, 6]
    assert steps[-1].done and not steps[0].done
    assert [s.images is not None for s in steps] == [False, False, True, False, False, True]
    assert steps[2].images is not None and steps[2].images.shape == (4, 32, 32)
    assert all(math.isfinite(s.d_loss) and math.isfinite(s.g_loss) for s in steps)
    assert all(0 <= s.d_real <= 1 and 0 <= s.d_fake <= 1 for s in steps)
    # Step 1 by hand on another copy: seed 0 orders the training digits, then draws the latent vectors.
    rng = torch.Generator().manual_seed(0)
    real = gan.real_digits("train")
    batch = real[torch.randperm(len(real), generator=rng)[:16]]
    z = torch.randn(16, gan.LATENT_DIM, generator=rng)
    mine = copy.deepcopy(dcgan.model).requires_grad_(True)
    expected = _step_by_hand(mine, batch, z, lr=generation.LIVE_LEARNING_RATE)
    for key, value in expected.items():
        assert getattr(steps[0], key) == pytest.approx(value, rel=1e-5), key
    after = dcgan.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the cached model must not be trained"
    assert not dcgan.model.training
    assert torch.get_num_threads() == threads


def test_live_training_from_scratch_is_seeded_and_stops() -> None:
    a = [s.g_loss for s in generation.live_training(3, seed=5, batch_size=8, every=10)]
    b = [s.g_loss for s in generation.live_training(3, seed=5, batch_size=8, every=10)]
    assert a == b
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2

    stopped = list(generation.live_training(10, batch_size=8, should_stop=stop))
    assert len(stopped) == 2
    with pytest.raises(ValueError, match="model"):
        next(generation.live_training(2, start="bundled"))
    with pytest.raises(ValueError, match="steps"):
        next(generation.live_training(0))


def test_train_step_moves_both_players() -> None:
    net = models.load("dcgan", pretrained=False).model
    mine = copy.deepcopy(net)
    before = _state(net)
    optimizers = gan.make_optimizers(net)
    real = gan.real_digits("train")[:8]
    losses = gan.train_step(net, optimizers, real, torch.Generator().manual_seed(0))
    after = net.state_dict()
    assert not torch.equal(before["generator.deconv1.weight"], after["generator.deconv1.weight"])
    assert not torch.equal(before["discriminator.conv1.weight"], after["discriminator.conv1.weight"])
    assert all(p.grad is None for p in net.discriminator.parameters())
    assert losses.d_loss > 0 and losses.g_loss > 0
    # The same step on a copy with the losses and updates written out in the test.
    z = torch.randn(8, gan.LATENT_DIM, generator=torch.Generator().manual_seed(0))
    expected = _step_by_hand(mine, real, z, lr=2e-4)
    for key, value in expected.items():
        assert getattr(losses, key) == pytest.approx(value, rel=1e-5), key
    # Both players took the same Adam step (weights and batch-norm statistics). Adam's first step moves each
    # weight by about lr·sign(gradient); a weight whose gradient is near Adam's eps may move a little
    # differently when the loss is written another way, so the bound is lr / 20, not float precision.
    for key, value in mine.state_dict().items():
        torch.testing.assert_close(after[key], value, rtol=0.0, atol=2e-4 / 20, msg=key)


# ----------------------------------------------------------------------------- bundled files and card


def test_bundled_files_are_small_and_consistent(dcgan: models.LoadedModel) -> None:
    files = [BUNDLED_DIR / f"dcgan{suffix}" for suffix in (".safetensors", ".json", ".npz")]
    assert sum(f.stat().st_size for f in files) < 1_000_000
    card = read_card("dcgan")
    snaps = generation.training_snapshots()
    assert list(snaps.epochs) == card["snapshots"]["epochs"]
    assert snaps.epochs[0] == 0 and snaps.epochs[-1] == card["epochs"]
    assert snaps.images.shape == (len(snaps.epochs), gan.SNAPSHOT_COUNT, 32, 32)
    assert snaps.images.dtype == np.uint8
    assert len(snaps.d_loss) == len(snaps.g_loss) == len(snaps.loss_epochs) == card["epochs"]
    # The last snapshot is what the bundled generator draws for the snapshot seed.
    np.testing.assert_array_equal(
        snaps.images[-1], generation.sample(dcgan, gan.SNAPSHOT_SEED, gan.SNAPSHOT_COUNT).images
    )
    # Trained is much closer to real digits than untrained, and real digits are closest.
    assert card["lenet_frechet_real_train_digits"] < card["held_out_lenet_frechet"]
    assert card["held_out_lenet_frechet"] < card["lenet_frechet_untrained_generator"] / 5
    assert sum(card["class_shares"]) == pytest.approx(1.0, abs=1e-3)
    params = card["parameters"]
    assert params["generator"] == sum(p.numel() for p in dcgan.model.generator.parameters())
    assert params["discriminator"] == sum(p.numel() for p in dcgan.model.discriminator.parameters())


def test_card_frechet_distances_are_recomputed(dcgan: models.LoadedModel) -> None:
    """The three Fréchet distances the page shows from the card, recomputed: the same samples (latent seed 1,
    1000 vectors, eval mode), LeNet-5's fc1 features taken with torchvision's feature extractor, and the
    distance by the eigenvalue route of `_frechet_by_eigh`."""
    card = read_card("dcgan")
    lenet = models.load("lenet5").model
    extractor = create_feature_extractor(lenet, ["tanh4", "fc2"])
    z = gan.latent(1, 1000)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(card["seed"])  # the untrained generator is the training run's starting point
        untrained = gan.DCGAN().eval()

    def features(images: torch.Tensor) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = extractor((images + 1.0) / 2.0)  # LeNet-5 reads digits in [0, 1]
        return {k: v.double().numpy() for k, v in out.items()}

    with torch.no_grad():
        fakes = dcgan.model.generator(z)
        untrained_fakes = untrained.generator(z)
    reference = features(gan.real_digits("held_out"))["tanh4"]
    fake_features = features(fakes)
    shown = {
        "held_out_lenet_frechet": fake_features["tanh4"],
        "lenet_frechet_untrained_generator": features(untrained_fakes)["tanh4"],
        "lenet_frechet_real_train_digits": features(gan.real_digits("train"))["tanh4"],
    }
    for key, feats in shown.items():
        # The card rounds to 3 decimals.
        assert _frechet_by_eigh(feats, reference) == pytest.approx(card[key], abs=5e-4 + 1e-6), key
    # LeNet-5's reading of the same fakes: mean top probability and the share read as each digit.
    logits = fake_features["fc2"]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    assert probabilities.max(axis=1).mean() == pytest.approx(card["lenet_confidence"], abs=5e-5 + 1e-7)
    shares = np.bincount(probabilities.argmax(axis=1), minlength=10) / len(logits)
    np.testing.assert_allclose(shares, card["class_shares"], atol=5e-5)
    # cnnviz's own route to the card's number agrees.
    assert (
        gan.digit_quality(fakes, gan.real_digits("held_out"))["lenet_frechet"]
        == card["held_out_lenet_frechet"]
    )


def test_frechet_distance_against_another_route() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6)
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.7 - 1.0
    expected = _frechet_by_eigh(a, b)
    assert expected > 1.0
    assert gan.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert gan.frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)  # symmetric
    # And the textbook form with scipy's sqrtm of the symmetric product.
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a.T), np.cov(b.T)
    root_a = np.real(linalg.sqrtm(cov_a))
    cross = np.trace(np.real(linalg.sqrtm(root_a @ cov_b @ root_a)))
    textbook = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b) - 2 * cross
    assert expected == pytest.approx(textbook, rel=1e-9)


def test_frechet_distance_closed_forms() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert gan.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0, -1.0])
    # Same covariance, shifted mean: the distance is the squared shift.
    assert gan.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # Same mean, covariance scaled by 4 (std by 2): tr(S + 4S - 2·2S) = tr(S).
    centred = a - a.mean(axis=0)
    assert gan.frechet_distance(centred, 2 * centred) == pytest.approx(np.trace(np.cov(a.T)), rel=1e-6)
    with pytest.raises(ValueError, match="a and b"):
        gan.frechet_distance(a, a[:, :3])


@pytest.mark.slow
def test_trainer_writes_weights_card_and_snapshots(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    card = gan.train_dcgan(1, tmp_path, progress=False)
    assert torch.get_num_threads() == threads
    for suffix in (".safetensors", ".json", ".npz"):
        assert (tmp_path / f"dcgan{suffix}").is_file()
    assert card["epochs"] == 1 and card["snapshots"]["epochs"] == [0, 1]
    assert read_card("dcgan", tmp_path)["weights_sha256"] == card["weights_sha256"]
    spec = models.get_spec("dcgan")
    net = models.BundledWeights("dcgan", directory=tmp_path).load(spec, progress=False)
    assert isinstance(net, gan.DCGAN)
    snaps = gan.read_snapshots("dcgan", tmp_path)
    assert snaps.images.shape == (2, gan.SNAPSHOT_COUNT, 32, 32)
