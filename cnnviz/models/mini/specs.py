"""The mini networks' preprocessing (`ShapesTransform`) and their specs, registered on import."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image, ImageOps

from cnnviz.data import shapes
from cnnviz.models.mini.nets import _BUILDERS, INPUT_SIZE, MINI_NAMES
from cnnviz.models.registry import BundledWeights, ModelSpec, register

__all__ = ["SPECS", "ShapesTransform"]


# ------------------------------------------------------------------------------------------------ specs


@dataclass(frozen=True)
class ShapesTransform:
    """The mini networks' preprocessing: centre crop to a square, resize to 64×64, `shapes.normalize`.

    A 64×64 shapes image passes through unchanged apart from the normalisation, so the app's input and the
    training data agree exactly.
    """

    size: tuple[int, int] = INPUT_SIZE

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Returns `(3, 64, 64)` float32, `(pixels / 255 - MEAN) / STD`."""
        image = image.convert("RGB")
        if image.size != (self.size[1], self.size[0]):
            image = ImageOps.fit(image, (self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        return shapes.normalize(pixels.view(self.size[0], self.size[1], 3).permute(2, 0, 1))


_NOTES: dict[str, tuple[str, int, tuple[str, ...]]] = {
    # name: (family, year, tags); each one's note is "model.note.<name>" in cnnviz/ui/texts/models.py
    "alexnet-mini": ("AlexNet", 2012, ("relu", "max pooling", "dropout", "augmentation")),
    "vgg-mini": ("VGG", 2014, ("3x3",)),
    "resnet-mini": ("ResNet", 2015, ("residual",)),
    "se-resnet-mini": ("SENet", 2017, ("residual", "se")),
    "plainnet-mini": ("ResNet", 2015, ("plain",)),
}


def _specs() -> list[ModelSpec]:
    """The registry entries of the bundled mini networks."""
    specs = []
    for name in MINI_NAMES:
        family, year, tags = _NOTES[name]
        specs.append(
            ModelSpec(
                name=name,
                family=family,
                task="classification",
                in_channels=3,
                input_size=INPUT_SIZE,
                source="bundled",
                build=_BUILDERS[name],
                transform=ShapesTransform(),
                categories=shapes.CLASSES,
                weight_source=BundledWeights(name),
                mean=shapes.MEAN,
                std=shapes.STD,
                year=year,
                tags=tags,
            )
        )
    return specs


SPECS: tuple[ModelSpec, ...] = tuple(register(spec) for spec in _specs())
"""The registered specs, in the lecture's order."""
