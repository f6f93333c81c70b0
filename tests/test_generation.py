"""The DCGAN (cnnviz.models.gan) and what the Generation page computes with it (cnnviz.analysis.generation).

Checked against direct computations: the generator's shapes against the transposed-convolution size formula,
scores against sigmoid(D(x)) run by hand, the latent walk against its end points, the Fréchet distance against
closed forms.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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
    before = _state(net)
    optimizers = gan.make_optimizers(net)
    losses = gan.train_step(net, optimizers, gan.real_digits("train")[:8], torch.Generator().manual_seed(0))
    after = net.state_dict()
    assert not torch.equal(before["generator.deconv1.weight"], after["generator.deconv1.weight"])
    assert not torch.equal(before["discriminator.conv1.weight"], after["discriminator.conv1.weight"])
    assert all(p.grad is None for p in net.discriminator.parameters())
    assert losses.d_loss > 0 and losses.g_loss > 0


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
