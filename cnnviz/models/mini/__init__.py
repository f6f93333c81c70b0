"""Mini networks of the lecture's CNN families, trained on synthetic shapes (3×64×64, `shapes.CLASSES`).

The lecture's history, each step one small network that trains in a few minutes on two CPU cores:

- `AlexNetMini`: ReLU, max pooling, dropout, trained with data augmentation (AlexNet vs LeNet-5);
- `VGGMini`: only 3×3 convolutions with stride 1 and padding 1, and 2×2 max pooling;
- `ResNetMini` with `BasicBlock`: H(x) = F(x) + x, identity skips and 1×1 stride-2 projection skips;
- `ResNetMini` with `SEBasicBlock`: the same with a `SEBlock` (squeeze by global average pooling, excitation
  FC → ReLU → FC → sigmoid, channel reweighting) on each residual branch;
- `ResNetMini` with `PlainBlock`: the same depth without skips.

Module names follow torchvision (`features.0`, `classifier.1`, `conv1`, `layer1.0.conv1`,
`layer2.0.downsample.0`, `layer1.0.se.fc1`, `fc`), so code written for torchvision's AlexNet/VGG/ResNet finds
the same parts here. Every ReLU is out-of-place, so a captured tensor is never changed after its hook ran and
gradients with respect to it stay well defined; the residual addition is a plain `out + identity`, which
`torch.fx` records as `layerN.M.add`.

`plain_stack(depth)` and `residual_stack(depth)` build untrained CIFAR-style ResNet-20/56 stacks and their
plain twins for the "vanishing gradients at initialisation" demo.

Each bundled network is trained by `python -m cnnviz.train NAME` (the `train_*` functions here) and stored as
`cnnviz/models/bundled/NAME.safetensors` with a `NAME.json` card.

The package: `nets` (the architectures and builders), `specs` (registered when this package is imported)
and `training` (held-out evaluation and the trainers). Every public name is importable from
``cnnviz.models.mini``.
"""

from __future__ import annotations

from cnnviz.models.mini.nets import (
    INPUT_SIZE,
    MINI_NAMES,
    NUM_CLASSES,
    AlexNetMini,
    BasicBlock,
    PlainBlock,
    ResNetMini,
    SEBasicBlock,
    SEBlock,
    VGGMini,
    alexnet_mini,
    build,
    plain_stack,
    plainnet_mini,
    residual_stack,
    resnet_mini,
    se_resnet_mini,
    vgg_mini,
)
from cnnviz.models.mini.specs import SPECS, ShapesTransform
from cnnviz.models.mini.training import (
    HELD_OUT_COUNT,
    evaluate,
    held_out_set,
    train_alexnet_mini,
    train_plainnet_mini,
    train_resnet_mini,
    train_se_resnet_mini,
    train_vgg_mini,
)

__all__ = [
    "HELD_OUT_COUNT",
    "INPUT_SIZE",
    "MINI_NAMES",
    "NUM_CLASSES",
    "SPECS",
    "AlexNetMini",
    "BasicBlock",
    "PlainBlock",
    "ResNetMini",
    "SEBasicBlock",
    "SEBlock",
    "ShapesTransform",
    "VGGMini",
    "alexnet_mini",
    "build",
    "evaluate",
    "held_out_set",
    "plain_stack",
    "plainnet_mini",
    "residual_stack",
    "resnet_mini",
    "se_resnet_mini",
    "train_alexnet_mini",
    "train_plainnet_mini",
    "train_resnet_mini",
    "train_se_resnet_mini",
    "train_vgg_mini",
    "vgg_mini",
]
