"""The run logs the Generation page keeps between reruns (live GAN training, style transfer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.analysis import generation, style


def test_live_log_keeps_every_step_in_order() -> None:
    steps = list(generation.live_training(3, batch_size=8, every=2, count=4, seed=1))
    log = generation.LiveLog(steps=3)
    for live in steps:
        log.add(live)
    assert log.done and log.step == 3 and log.seconds == steps[-1].seconds
    assert log.d_loss == [s.d_loss for s in steps] and log.d_fake == [s.d_fake for s in steps]
    last_images = [s for s in steps if s.images is not None][-1]
    assert log.image_step == last_images.step and np.array_equal(log.images, last_images.images)
    with pytest.raises(ValueError, match="in order"):
        log.add(steps[0])


def test_style_log_weights_the_terms_as_the_total_does() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
    image = torch.rand(1, 3, 16, 16)
    run = style.transfer_style(
        net, image, torch.rand(1, 3, 16, 16), content_layer="3", style_layers=["1"], style_weight=7.0, steps=3
    )
    log = style.StyleLog(steps=4, style_weight=7.0, tv_weight=0.3, backbone="tiny")
    taken = []
    for step in run:
        log.add(step)
        taken.append(step)
    assert not log.done and log.step == 3  # stopped before the 4 asked for
    terms = log.weighted()
    total = terms["content"] + terms["style"] + terms["tv"]
    np.testing.assert_allclose(total, [s.total_loss for s in taken], rtol=1e-5)
    np.testing.assert_allclose(terms["style"], [7.0 * s.style_loss for s in taken])
    assert np.array_equal(log.image, taken[-1].image)


def test_depth_comparison_against_the_profiles() -> None:
    from cnnviz.analysis import residual

    plain = residual.depth_profile(8, False, batch_norm=False)
    skip = residual.depth_profile(8, True, batch_norm=False)
    numbers = residual.compare_depth(plain, skip)
    assert numbers.plain_first == plain.grad_norms[0] and numbers.residual_first == skip.grad_norms[0]
    assert numbers.residual_over_plain == pytest.approx(skip.grad_norms[0] / plain.grad_norms[0])
    assert numbers.plain_change == pytest.approx(plain.grad_norms[0] / plain.grad_norms[-1])
    assert numbers.plain_shrinks == (plain.grad_norms[0] < plain.grad_norms[-1])
    weight = residual.compare_depth(plain, skip, "weight")
    assert weight.plain_first == plain.weight_grad_norms[0]
    with pytest.raises(ValueError, match="plain and a residual"):
        residual.compare_depth(skip, plain)
