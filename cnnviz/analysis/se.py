"""Squeeze-and-excitation (SE) blocks, found in any network, and how each reweights the channels of one image.

The lecture's SE block, on a feature map of C channels:

1. squeeze: global average pooling describes each channel by one number, a 1×1×C vector;
2. excitation: FC from C to C/r channels, ReLU, FC back to C, sigmoid: each channel's relative importance as
   a weight between 0 and 1;
3. scale: the feature map is multiplied channel by channel by those weights.

**Finding the blocks** (duck typing on the block's own operations, recorded by `cnnviz.analysis.dataflow`): a
module whose output is `x * w`, where x is the module's input and w is computed from x by

- a global pooling first: the operation on w's path that reads x gives one number per channel
  (`AdaptiveAvgPool2d(1)`, `x.mean((2, 3), keepdim=True)`, `F.adaptive_avg_pool2d(x, 1)`, ...);
- exactly two fully connected layers (`Linear`, or `Conv2d` with a 1×1 kernel on the pooled vector), with only
  parameter-free operations (the activation) or a normalisation layer around them;
- a gate last, before any reshape: a sigmoid or hard sigmoid, as a module (`nn.Sigmoid`, `nn.Hardsigmoid`,
  any class whose name contains "sigmoid") or a function (`torch.sigmoid`, `F.hardsigmoid`).

This finds torchvision's `SqueezeExcitation` (EfficientNet, MobileNetV3, RegNetY), the bundled `SEBlock`,
timm-style modules (`SEModule`: `x.mean`, `fc1`, `bn`, `act`, `fc2`, `gate`) and the classic `Linear` version
(`y = fc(pool(x).view(n, c)).view(n, c, 1, 1); x * y.expand_as(x)`, or `x * y[:, :, None, None]`). Not
found: gates written out by hand (`relu6(x + 3) / 6`), attention with several poolings (CBAM's average +
max), modules called with several tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from cnnviz.analysis.dataflow import MUL_OPS, BlockFinder, Frame, check_image_batch, op_name, recording
from cnnviz.locks import model_lock
from cnnviz.tensors import on_model_device

__all__ = ["SEActivation", "SEBlockInfo", "SEResult", "find_se_blocks", "se_weights"]

_GATE_FUNCTIONS = frozenset({"sigmoid", "sigmoid_", "hardsigmoid", "hardsigmoid_"})
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True)
class SEBlockInfo:
    """An SE block as found in the model.

    Attributes:
        name: module name in `model.named_modules()`.
        kind: the module's class name, e.g. "SqueezeExcitation", "SEBlock".
        channels: C, the channels it reweights.
        reduced_channels: C/r, the width of the first FC's output.
        activation: what runs between the two FCs, e.g. "ReLU", "SiLU" ("" if nothing does).
        gate: the gate, e.g. "Sigmoid", "Hardsigmoid".
        fc1: module name of the first FC (C -> C/r).
        fc2: module name of the second FC (C/r -> C).
        squeeze_op: position of the pooling among the block's own operations (`dataflow.Frame.ops`).
        reduced_op: position of the vector the second FC reads (the reduced vector after the activation).
        gate_op: position of the gate.
    """

    name: str
    kind: str
    channels: int
    reduced_channels: int
    activation: str
    gate: str
    fc1: str
    fc2: str
    squeeze_op: int
    reduced_op: int
    gate_op: int

    @property
    def reduction(self) -> float:
        """r = C / (C/r)."""
        return self.channels / self.reduced_channels


@dataclass(frozen=True, eq=False)
class SEActivation:
    """What one SE block did to one image (arrays are float32 and read-only).

    Attributes:
        block: the block.
        squeeze: (C,), the squeeze vector: each input channel's global average.
        reduced: (C/r,), the first FC's output after the activation (what the second FC reads).
        weights: (C,), the excitation weights: the gate's output, each channel's weight in 0..1.
        before: (C, H, W), the feature map the block got, or None when maps were not kept.
        after: (C, H, W), the block's output, `before * weights`, or None.
    """

    block: SEBlockInfo
    squeeze: np.ndarray
    reduced: np.ndarray
    weights: np.ndarray
    before: np.ndarray | None
    after: np.ndarray | None

    @property
    def name(self) -> str:
        """The block's module name."""
        return self.block.name

    def ranked(self) -> np.ndarray:
        """Channel indices by weight, the most boosted (highest weight) first; ties by channel index."""
        return np.argsort(-self.weights, kind="stable")

    def boosted(self, k: int) -> np.ndarray:
        """The `k` channels with the highest weights, highest first; at most half the channels, so that no
        channel is both boosted and suppressed (see `suppressed`)."""
        return self.ranked()[: self._half(k)]

    def suppressed(self, k: int) -> np.ndarray:
        """The `k` channels with the lowest weights, lowest first; at most half the channels, taken from the
        other end of `ranked()`, so they never overlap `boosted(k)`, not even when weights tie."""
        return self.ranked()[::-1][: self._half(k)]

    def _half(self, k: int) -> int:
        return max(0, min(int(k), len(self.weights) // 2))


@dataclass(frozen=True, eq=False)
class SEResult:
    """Every SE block of a model on one image.

    Attributes:
        blocks: the blocks in the order they ran.
        logits: (K,) float32 output of a classifier, or None when the output is not (1, K).
    """

    blocks: tuple[SEActivation, ...]
    logits: np.ndarray | None

    @property
    def names(self) -> list[str]:
        """The blocks' module names, in the order they ran."""
        return [b.name for b in self.blocks]

    def block(self, name: str) -> SEActivation:
        """The block called `name`.

        Raises:
            KeyError: naming the unknown block.
        """
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no SE block named {name!r}; blocks: {', '.join(self.names) or 'none'}")

    def mean_abs_difference(self, other: SEResult) -> np.ndarray:
        """(blocks,) float32: per block, the mean |w − w'| of the excitation weights of two images.

        Raises:
            ValueError: `other` comes from a model with other SE blocks.
        """
        if self.names != other.names:
            raise ValueError(f"the two results have different SE blocks: {self.names} vs {other.names}")
        return np.array(
            [np.abs(a.weights - b.weights).mean() for a, b in zip(self.blocks, other.blocks, strict=True)],
            dtype=np.float32,
        )

    def weight_matrix(self) -> np.ndarray:
        """(blocks, max C) float32: each block's excitation weights, padded with NaN to the widest block."""
        width = max((len(b.weights) for b in self.blocks), default=0)
        out = np.full((len(self.blocks), width), np.nan, dtype=np.float32)
        for i, b in enumerate(self.blocks):
            out[i, : len(b.weights)] = b.weights
        return out


def _is_fc(module: nn.Module | None) -> bool:
    if isinstance(module, nn.Linear):
        return True
    return isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (1, 1) and module.groups == 1


def _has_parameters(module: nn.Module | None) -> bool:
    return module is not None and next(module.parameters(), None) is not None


def _out_width(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else int(module.out_channels)  # type: ignore[arg-type]


def _per_sample(shape: tuple[int, ...] | None) -> int:
    return int(np.prod(shape[1:])) if shape else -1


def _se_block(frame: Frame) -> SEBlockInfo | None:
    """The SE pattern in one module's own operations, if it is there."""
    inputs = frame.inputs
    if len(inputs) != 1 or len(frame.outputs) != 1:
        return None
    x = inputs[0]
    if x.shape is None or len(x.shape) < 3:
        return None
    channels = x.shape[1]
    out = frame.ops[frame.outputs[0]]
    if out.kind != "function" or out.target not in MUL_OPS or len(out.inputs) != 2:
        return None
    if out.inputs.count(x.index) != 1:
        return None
    gate_op = frame.strip_shape_ops(next(i for i in out.inputs if i != x.index))
    gate = frame.ops[gate_op]
    is_gate = (gate.kind == "module" and "sigmoid" in op_name(gate).lower()) or (
        gate.kind == "function" and gate.target in _GATE_FUNCTIONS
    )
    if not is_gate or _per_sample(gate.shape) != channels:
        return None
    path = sorted(i for i in frame.ancestors(gate_op) if frame.ops[i].depends and i != x.index)
    weighted = [frame.ops[i] for i in path if _has_parameters(frame.ops[i].module)]
    fcs = [op for op in weighted if _is_fc(op.module)]
    if len(fcs) != 2 or any(not isinstance(op.module, _NORMS) for op in weighted if op not in fcs):
        return None
    readers = [frame.ops[i] for i in path if x.index in frame.ops[i].inputs]
    if len(readers) != 1 or _per_sample(readers[0].shape) != channels:
        return None  # the pooling must be the only op that reads x, and give one number per channel
    squeeze = readers[0]
    fc1, fc2 = fcs
    if not fc2.inputs or fc1.module is None or fc2.module is None:
        return None
    reduced_op = fc2.inputs[0]
    act = frame.strip_shape_ops(reduced_op)
    return SEBlockInfo(
        name=frame.name,
        kind=type(frame.module).__name__,
        channels=channels,
        reduced_channels=_out_width(fc1.module),
        activation="" if act == fc1.index else op_name(frame.ops[act]),
        gate=op_name(gate),
        fc1=fc1.target,
        fc2=fc2.target,
        squeeze_op=squeeze.index,
        reduced_op=reduced_op,
        gate_op=gate_op,
    )


_finder = BlockFinder(_se_block)


def find_se_blocks(model: nn.Module, x: Tensor | None = None) -> list[SEBlockInfo]:
    """The SE blocks of `model`, in `named_modules()` order, found from one forward pass without gradients.

    The answer is remembered for the model object while its modules, its train/eval flags and the input's
    shape stay the same (see `cnnviz.analysis.dataflow.structure_key`).

    Args:
        model: any network.
        x: an input of the model's own size; default a zeros image of 224 × 224 with the first convolution's
            input channels.

    Raises:
        ValueError: no `x` and the model has no Conv2d to size a probe by.
    """
    return _finder(model, x)


def _vector(frame: Frame, index: int, name: str) -> np.ndarray:
    value = frame.ops[index].value if index < len(frame.ops) else None
    if value is None:
        raise RuntimeError(
            f"SE block {name!r} ran differently in the second pass; its forward must be deterministic."
        )
    out = value[0].reshape(-1).float().cpu().numpy().copy()
    out.setflags(write=False)
    return out


def _map(value: Tensor | None) -> np.ndarray | None:
    if value is None or value.dim() != 4:
        return None
    out = value[0].float().cpu().numpy().copy()
    out.setflags(write=False)
    return out


def se_weights(model: nn.Module, x: Tensor, *, maps: bool = True) -> SEResult:
    """Runs `model` on `x` (without gradients) and reads every SE block's squeeze vector, reduced vector,
    excitation weights and feature maps before and after the scaling.

    The first time for a model and input size, one more run finds the blocks (`find_se_blocks`).

    Holds the model's lock; every hook is gone afterwards and `x` is not changed.

    Args:
        model: any network, usually in eval mode.
        x: the preprocessed image, (1, C, H, W).
        maps: keep the (C, H, W) feature maps before and after the scaling of each block.

    Returns:
        One `SEActivation` per SE block (none for a network without SE blocks) and the logits.

    Raises:
        ValueError: `x` is not (1, C, H, W).
        RuntimeError: a block took a different path in the second run than in the first.
    """
    check_image_batch(x)
    x = on_model_device(model, x)
    with model_lock(model):
        infos = find_se_blocks(model, x)
        wanted = {info.name for info in infos}
        with torch.no_grad(), recording(model, lambda name, m: name in wanted, keep_values=True) as rec:
            out = model(x)
    blocks = []
    for info in infos:
        frame = rec.frames[info.name]
        before = frame.inputs[0].value if maps else None
        after = frame.ops[frame.outputs[0]].value if maps and frame.outputs else None
        blocks.append(
            SEActivation(
                block=info,
                squeeze=_vector(frame, info.squeeze_op, info.name),
                reduced=_vector(frame, info.reduced_op, info.name),
                weights=_vector(frame, info.gate_op, info.name),
                before=_map(before),
                after=_map(after),
            )
        )
    logits = None
    if isinstance(out, Tensor) and out.dim() == 2 and out.shape[0] == 1:
        logits = out[0].detach().float().cpu().numpy().copy()
        logits.setflags(write=False)
    return SEResult(blocks=tuple(blocks), logits=logits)
