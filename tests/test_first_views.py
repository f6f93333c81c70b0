"""Speed-ups of the first views change no number: each is checked against the slow way it replaced."""

from __future__ import annotations

import pytest
import torch

from cnnviz import models
from cnnviz.analysis.architecture import traits, weight_depth
from cnnviz.analysis.summary import summary
from cnnviz.models.meta import MetaBuildError, build_meta
from cnnviz.ui import cache

CLASSIFIERS = [s.name for s in models.list_specs("classification")]


def _real(name: str):
    """The numbers the Architectures page showed before: the architecture built untrained and run on zeros."""
    spec = models.get_spec(name)
    net = models.build_untrained(spec).eval()
    shape = (1, spec.in_channels, *spec.input_size)
    return summary(net, shape), traits(net), weight_depth(net)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_architecture_equals_the_real_build(name: str) -> None:
    """Every classifier the page can show (its own table and the comparisons: lenet5, alexnet, vgg16,
    resnet18), row by row: shapes, parameters, MACs, receptive fields, activations, traits and depth."""
    rows, found, depth = cache.architecture(name)
    real_rows, real_traits, real_depth = _real(name)
    assert rows == real_rows
    assert found == real_traits
    assert depth == real_depth
    assert sum(r.params for r in rows) == sum(
        p.numel() for p in models.build_untrained(models.get_spec(name)).parameters()
    )


def test_meta_build_has_no_storage_and_real_shapes() -> None:
    spec = models.get_spec("vgg16")
    meta = build_meta(spec)
    real = models.build_untrained(spec)
    assert all(p.is_meta for p in meta.parameters())
    assert [(n, p.shape) for n, p in meta.named_parameters()] == [
        (n, p.shape) for n, p in real.named_parameters()
    ]
    assert not meta.training


def test_an_architecture_that_reads_values_falls_back() -> None:
    """RegNet reads a value while being built or run on meta tensors: the page builds it for real."""
    spec = models.get_spec("regnet_y_400mf")
    with pytest.raises((MetaBuildError, NotImplementedError, RuntimeError)):
        summary(build_meta(spec), (1, 3, *spec.input_size))
    assert cache.architecture("regnet_y_400mf")[0] == _real("regnet_y_400mf")[0]


def test_meta_build_error_names_the_model() -> None:
    def build() -> torch.nn.Module:
        torch.ones(1).item()
        return torch.nn.Identity()

    spec = models.get_spec("lenet5")
    broken = models.ModelSpec(
        **{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "name": "broken", "build": build}
    )
    with pytest.raises(MetaBuildError, match="broken cannot be built on the meta device"):
        build_meta(broken)


# --- shapes-only passes on the meta device give the real passes' answers ---------------------------------

SEMANTIC = [s.name for s in models.list_specs("segmentation") if "instance" not in s.tags]


@pytest.mark.parametrize("name", SEMANTIC)
def test_segmentation_sizes_equal_the_real_pass(name: str) -> None:
    from cnnviz.analysis.segmentation import size_path_image
    from cnnviz.images import load_sample

    loaded = models.load(name, allow_untrained=True, progress=False)
    image = load_sample("chelsea")
    assert cache.seg_sizes(loaded, image) == size_path_image(loaded, image)


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2", "vgg16", "resnet50", "regnet_y_400mf"])
def test_cam_layer_equals_the_real_pass(name: str) -> None:
    from cnnviz.analysis.cam import default_cam_layer

    loaded = models.load(name, allow_untrained=True, progress=False)
    spec = loaded.spec
    assert cache.cam_layer(loaded) == default_cam_layer(
        loaded.model, torch.zeros(1, spec.in_channels, *spec.input_size)
    )


# --- an untrained semantic model runs its untrained instance partner only when asked ----------------------


def test_untrained_partner_runs_only_when_asked() -> None:
    from pagetest import assert_ok, open_page

    from cnnviz.ui.text import tr

    if models.weights_present("lraspp_mobilenet_v3_large") or models.weights_present("maskrcnn_resnet50_fpn"):
        pytest.skip("trained weights are on this machine: the partner is not deferred")
    at = open_page("pages/8_Segmentation.py", segmenter="lraspp_mobilenet_v3_large")
    next(c for c in at.checkbox if (c.key or "").startswith("untrained")).check().run()  # keyed per model
    assert_ok(at)
    said = tr("seg.partner_deferred", "en", name="maskrcnn_resnet50_fpn")
    assert said in [i.value for i in at.info]
    assert len(at.get("image")) == 1  # the semantic overlay only
    next(t for t in at.toggle if t.key == "seg_partner_run").set_value(True).run(timeout=300)
    assert_ok(at)
    assert said not in [i.value for i in at.info]
    assert len(at.get("image")) == 2  # and the partner's instance overlay
