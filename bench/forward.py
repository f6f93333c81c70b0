"""The baseline both app benchmarks divide by: one plain forward pass of the app's default model."""

from __future__ import annotations

import statistics
import time


def default_model_forward(repeats: int = 10) -> tuple[str, object, tuple[int, ...], float]:
    """(model name, its weights label, input shape, median seconds of `repeats` forward passes).

    The model is the one a first visit shows (`PREFERRED_MODELS`' first with weights here), on the sample
    photo, without gradients, after one warm-up pass.
    """
    import torch

    from cnnviz import models
    from cnnviz.images import load_sample
    from cnnviz.ui.sidebar import PREFERRED_MODELS

    name = next(n for n in PREFERRED_MODELS if models.weights_present(n))
    loaded = models.load(name)
    x = loaded.preprocess(load_sample("chelsea"))
    times = []
    with torch.no_grad():
        loaded.model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            loaded.model(x)
            times.append(time.perf_counter() - t0)
    return name, loaded.weights, tuple(x.shape), statistics.median(times)
