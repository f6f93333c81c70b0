"""Residual blocks, H(x) = F(x) + s(x), found in any network, and how the gradient splits at the sum.

The lecture: a residual block adds its input to the output of its convolutions, H(x) = F(x) + x, so in
backpropagation ∂H/∂x = F'(x) + 1: the "+1" carries the gradient back even where F'(x) is small, which keeps
deep networks from losing it (vanishing gradients).

**Finding the blocks.** A residual block is a module whose own `forward` adds two tensors that both come from
its input. `find_residual_blocks` runs the model once under `cnnviz.analysis.dataflow`, which records each
module's own operations with its submodules kept opaque (the graph `torch.fx` would show, recorded from the
real run: see that module for why), and keeps the modules with such a sum. This finds torchvision's
`BasicBlock` and `Bottleneck` (`out += identity`), MobileNetV2's and MobileNetV3's `InvertedResidual` and
EfficientNet's `MBConv` (where `use_res_connect` is set), RegNet's `ResBottleneckBlock`, and the bundled
`BasicBlock`/`SEBasicBlock`, without a list of classes. A stage that only chains blocks is not a block itself
(its graph has no sum), and neither is a plain block.

Which operand is the skip: the one whose own path (the operations it does not share with the other operand)
holds fewer parameters, fewer operations on a tie. The skip is "identity" when that path is empty or only
reshapes (s(x) = x), "projection" when it has parameters (ResNet's 1×1 convolution + BN `downsample`, s(x) =
W_s x), "parameter-free" otherwise (a pooling or zero-padding shortcut).

**The split.** Let S = F(x) + s(x) be the sum as the block computes it, before any activation that follows it
(torchvision's `BasicBlock` outputs H = ReLU(S)), and g = ∂L/∂S. Then

    ∂L/∂x = F'(x)ᵀ g + s'(x)ᵀ g        (the residual branch's part + the skip path's part)

and for an identity skip s'(x)ᵀ g = g: the lecture's "+1". The split is made at S because the ReLU after the
sum acts on both parts alike: g = ∂L/∂H ⊙ 1[S > 0] already holds the ReLU's mask, and splitting after it would
leave no place where the two paths are still separate. Both parts are vector-Jacobian products computed by
autograd from the real sum, so they add up to the block's input gradient exactly (up to rounding).

**Limits.** A block must be called with one tensor; a block whose forward adds more than once (a transformer
layer) is split at its last sum; sums with keyword arguments (`torch.add(a, b, alpha=2)`) or broadcasting are
not residual sums; a block called several times is reported for its last call; a statement `out.add_(x)`
followed by an in-place change of `out` leaves no untouched sum to differentiate, so that block's split is
reported as unknown (NaN, `split=False`) rather than wrong. The input gradient is the
gradient through this block (its input is fed through a copy), which is the whole gradient at that tensor in a
chain of blocks.

The gradient against depth in untrained stacks (`depth_profile`, `compare_depth`) lives in
`cnnviz.analysis.depth` and is re-exported here.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.analysis.dataflow import (
    ADD_OPS,
    PASS,
    SHAPE_OPS,
    BlockFinder,
    Frame,
    check_image_batch,
    recording,
)
from cnnviz.analysis.depth import (
    DEPTH_MEASURES,
    STACK_DEPTHS,
    DepthComparison,
    DepthProfile,
    compare_depth,
    depth_profile,
)
from cnnviz.locks import model_lock
from cnnviz.tensors import on_model_device

__all__ = [
    "DEPTH_MEASURES",
    "OBJECTIVES",
    "STACK_DEPTHS",
    "BlockGradients",
    "DepthComparison",
    "DepthProfile",
    "GradientArrays",
    "Objective",
    "ResidualBlock",
    "ResidualGradients",
    "compare_depth",
    "depth_profile",
    "find_residual_blocks",
    "residual_gradients",
]


Objective = Literal["loss", "score"]
OBJECTIVES: tuple[str, ...] = ("loss", "score")
"""What L is: "loss" = cross-entropy of the target class, −log softmax(logits)[target], the quantity training
backpropagates; "score" = the target's logit, as in Grad-CAM."""


# The probe input when none is given: ImageNet's size, which every torchvision classifier accepts.


@dataclass(frozen=True)
class ResidualBlock:
    """A module whose own forward computes S = F(x) + s(x).

    Attributes:
        name: module name in `model.named_modules()` ("" for the model itself).
        kind: the module's class name, e.g. "BasicBlock", "InvertedResidual".
        skip: "identity" (s(x) = x), "projection" (the skip path has parameters, e.g. a 1×1 convolution + BN)
            or "parameter-free" (e.g. a pooling shortcut).
        skip_modules: names of the submodules on the skip path only, in the order they ran; () for identity.
        branch_modules: names of the submodules on the residual branch F only.
        after_sum: names of the submodules that run on the sum, e.g. the ReLU of H = ReLU(S).
        junction: position of the sum among the block's own operations (`dataflow.Frame.ops`).
        skip_operand: which argument of the sum (0 or 1) is the skip s(x).
    """

    name: str
    kind: str
    skip: str
    skip_modules: tuple[str, ...]
    branch_modules: tuple[str, ...]
    after_sum: tuple[str, ...]
    junction: int
    skip_operand: int


@dataclass(frozen=True, eq=False)
class GradientArrays:
    """Full gradients of one block (kept only with `keep_gradients=True`), float32, the input's shape.

    Attributes:
        total: ∂L/∂x, the gradient at the block's input.
        skip: s'(x)ᵀ g, the skip path's part (= g for an identity skip).
        branch: F'(x)ᵀ g, the residual branch's part; `skip + branch == total`.
        at_sum: g = ∂L/∂S, the gradient at the sum (the output's shape).
    """

    total: np.ndarray
    skip: np.ndarray
    branch: np.ndarray
    at_sum: np.ndarray


@dataclass(frozen=True, eq=False)
class BlockGradients:
    """Gradient and activation norms of one residual block for one image (L2 norms over the whole tensor).

    Attributes:
        block: the block, as found by `find_residual_blocks`.
        input_shape: shape of x, e.g. (1, C, H, W).
        output_shape: shape of the block's output H.
        grad_input: ‖∂L/∂x‖.
        grad_sum: ‖g‖ = ‖∂L/∂S‖ at the sum, before the activation after it.
        grad_output: ‖∂L/∂H‖ at the block's output.
        grad_skip: ‖s'(x)ᵀ g‖, the gradient that reaches x through the skip (= ‖g‖ for an identity skip).
        grad_branch: ‖F'(x)ᵀ g‖, the gradient that reaches x through the residual branch.
        skip_share: ⟨skip part, ∂L/∂x⟩ / ‖∂L/∂x‖², the skip's share of the input gradient; with
            `branch_share` it adds up to 1 (a share can be negative where the parts point against each other).
        branch_share: ⟨branch part, ∂L/∂x⟩ / ‖∂L/∂x‖².
        input_norm: ‖x‖.
        branch_norm: ‖F(x)‖.
        skip_norm: ‖s(x)‖.
        sum_norm: ‖S‖.
        output_norm: ‖H‖.
        skip_map: (h, w) float32, at each position the norm over channels of the skip part (4-D inputs only).
        branch_map: (h, w) float32, the same for the branch part.
        split: False when the sum or its operands were changed in place after the sum (a statement
            `a.add_(b)` followed by an in-place operation), so the split is unknown: its fields are NaN.
        arrays: the full gradients, when asked for.
    """

    block: ResidualBlock
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    grad_input: float
    grad_sum: float
    grad_output: float
    grad_skip: float
    grad_branch: float
    skip_share: float
    branch_share: float
    input_norm: float
    branch_norm: float
    skip_norm: float
    sum_norm: float
    output_norm: float
    skip_map: np.ndarray | None
    branch_map: np.ndarray | None
    split: bool
    arrays: GradientArrays | None = None

    @property
    def name(self) -> str:
        """The block's module name."""
        return self.block.name

    @property
    def gain(self) -> float:
        """‖∂L/∂x‖ / ‖∂L/∂S‖: how the gradient's size changes through the block (‖F'(x)ᵀg + g‖ / ‖g‖)."""
        return self.grad_input / self.grad_sum if self.grad_sum > 0 else float("nan")


@dataclass(frozen=True, eq=False)
class ResidualGradients:
    """Per-block gradients of L for one image.

    Attributes:
        target: the class L is about.
        objective: "loss" or "score" (see `OBJECTIVES`).
        value: L.
        probability: softmax probability of the target.
        logits: (K,) float32, the model's output.
        blocks: the residual blocks in the order they ran.
    """

    target: int
    objective: str
    value: float
    probability: float
    logits: np.ndarray
    blocks: tuple[BlockGradients, ...]

    @property
    def names(self) -> list[str]:
        """The blocks' module names, in the order they ran."""
        return [b.name for b in self.blocks]

    def block(self, name: str) -> BlockGradients:
        """The block called `name`.

        Raises:
            KeyError: naming the unknown block.
        """
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no residual block named {name!r}; blocks: {', '.join(self.names) or 'none'}")


# --------------------------------------------------------------------------------------------- finding


def _param_count(frame: Frame, ops: set[int]) -> int:
    seen: set[int] = set()
    total = 0
    for i in ops:
        module = frame.ops[i].module
        if module is not None and id(module) not in seen:
            seen.add(id(module))
            total += sum(p.numel() for p in module.parameters())
    return total


def _module_names(frame: Frame, ops: set[int]) -> tuple[str, ...]:
    return tuple(frame.ops[i].target for i in sorted(ops) if frame.ops[i].kind == "module")


def _residual_block(frame: Frame) -> ResidualBlock | None:
    """The block's sum of two input-dependent tensors of the same shape, if it has one (its last)."""
    if len(frame.inputs) != 1:
        return None
    sums = [
        op
        for op in frame.ops
        if op.kind == "function"
        and op.target in ADD_OPS
        and op.plain
        and len(op.inputs) == 2
        and op.inputs[0] != op.inputs[1]
        and all(frame.ops[i].depends and frame.ops[i].shape == op.shape for i in op.inputs)
    ]
    if not sums:
        return None
    junction = sums[-1]
    a, b = junction.inputs
    ancestors = frame.ancestors(a), frame.ancestors(b)
    only = ancestors[0] - ancestors[1], ancestors[1] - ancestors[0]
    cost = [(_param_count(frame, only[k]), len(only[k])) for k in (0, 1)]
    skip_operand = 0 if cost[0] < cost[1] else 1
    skip_only = only[skip_operand]
    reshapes_only = all(
        (op.kind == "module" and isinstance(op.module, nn.Identity))
        or (op.kind == "function" and op.target in SHAPE_OPS)
        for op in (frame.ops[i] for i in skip_only)
    )
    if reshapes_only:
        skip = "identity"
    elif cost[skip_operand][0] > 0:
        skip = "projection"
    else:
        skip = "parameter-free"
    after = {
        op.index
        for op in frame.ops
        if op.index > junction.index and junction.index in frame.ancestors(op.index)
    }
    return ResidualBlock(
        name=frame.name,
        kind=type(frame.module).__name__,
        skip=skip,
        skip_modules=() if skip == "identity" else _module_names(frame, skip_only),
        branch_modules=_module_names(frame, only[1 - skip_operand]),
        after_sum=_module_names(frame, after),
        junction=junction.index,
        skip_operand=skip_operand,
    )


_finder = BlockFinder(_residual_block)


def find_residual_blocks(model: nn.Module, x: Tensor | None = None) -> list[ResidualBlock]:
    """The residual blocks of `model`, in `named_modules()` order, found from one forward pass.

    The answer is remembered for the model object while its modules, its train/eval flags and the input's
    shape stay the same (see `cnnviz.analysis.dataflow.structure_key`).

    Args:
        model: any network.
        x: an input of the model's own size (e.g. `LoadedModel.preprocess(image)`); default a zeros image of
            224 × 224 with the first convolution's input channels.

    Returns:
        One `ResidualBlock` per module whose own forward adds a branch and a skip; [] for a plain network.

    Raises:
        ValueError: no `x` and the model has no Conv2d to size a probe by.
    """
    return _finder(model, x)


# --------------------------------------------------------------------------------------------- gradients


@dataclass
class _Taps:
    """The tensors of one block's call in the gradient pass."""

    input: Tensor
    operands: tuple[Tensor, Tensor] | None = None
    sum: Tensor | None = None
    versions: tuple[int, ...] = ()
    output: Tensor | None = None


def _norm(t: Tensor | None) -> float:
    return float(t.detach().double().norm()) if t is not None else float("nan")


def _channel_map(t: Tensor) -> np.ndarray | None:
    """(1, C, h, w) -> (h, w): the norm over channels at each position."""
    if t.dim() != 4:
        return None
    out = t[0].detach().double().norm(dim=0).float().cpu().numpy().copy()
    out.setflags(write=False)
    return out


def _array(t: Tensor) -> np.ndarray:
    out = t.detach().float().cpu().numpy().copy()
    out.setflags(write=False)
    return out


def _vjp(output: Tensor, inp: Tensor, grad: Tensor) -> Tensor:
    """output'(inp)ᵀ grad, through this block's graph only."""
    if not output.requires_grad:
        return torch.zeros_like(inp)
    (part,) = torch.autograd.grad(
        output, inp, grad, retain_graph=True, allow_unused=True, materialize_grads=True
    )
    return part


def _objective(logits: Tensor, target: int, objective: str) -> Tensor:
    if objective == "loss":
        return F.cross_entropy(logits.float(), torch.tensor([target], device=logits.device))
    return logits[0, target]


def _block_result(block: ResidualBlock, taps: _Taps, grads: dict[int, Tensor], keep: bool) -> BlockGradients:
    def grad(t: Tensor) -> Tensor:  # a tap outside the graph (a block run under no_grad) gets zeros
        return grads[id(t)] if id(t) in grads else torch.zeros_like(t)

    g_input = grad(taps.input)
    g_output = grad(taps.output) if taps.output is not None else None
    nan = float("nan")
    split = (
        taps.sum is not None
        and taps.operands is not None
        and (taps.sum._version, *(t._version for t in taps.operands)) == taps.versions
    )
    if split and taps.sum is not None and taps.operands is not None:
        g_sum = grad(taps.sum)
        skip_operand = taps.operands[block.skip_operand]
        branch_operand = taps.operands[1 - block.skip_operand]
        skip_part = _vjp(skip_operand, taps.input, g_sum)
        branch_part = _vjp(branch_operand, taps.input, g_sum)
        total_sq = float(g_input.double().pow(2).sum())
        shares = (
            (
                float((skip_part.double() * g_input.double()).sum()) / total_sq,
                float((branch_part.double() * g_input.double()).sum()) / total_sq,
            )
            if total_sq > 0
            else (nan, nan)
        )
        fields: dict[str, Any] = dict(
            grad_sum=_norm(g_sum),
            grad_skip=_norm(skip_part),
            grad_branch=_norm(branch_part),
            skip_share=shares[0],
            branch_share=shares[1],
            branch_norm=_norm(branch_operand),
            skip_norm=_norm(skip_operand),
            sum_norm=_norm(taps.sum),
            skip_map=_channel_map(skip_part),
            branch_map=_channel_map(branch_part),
            arrays=GradientArrays(_array(g_input), _array(skip_part), _array(branch_part), _array(g_sum))
            if keep
            else None,
        )
    else:
        fields = dict(
            grad_sum=nan,
            grad_skip=nan,
            grad_branch=nan,
            skip_share=nan,
            branch_share=nan,
            branch_norm=nan,
            skip_norm=nan,
            sum_norm=nan,
            skip_map=None,
            branch_map=None,
            arrays=None,
        )
    out = taps.output
    return BlockGradients(
        block=block,
        input_shape=tuple(taps.input.shape),
        output_shape=tuple(out.shape) if out is not None else (),
        grad_input=_norm(g_input),
        grad_output=_norm(g_output),
        input_norm=_norm(taps.input),
        output_norm=_norm(out),
        split=split,
        **fields,
    )


def residual_gradients(
    model: nn.Module,
    x: Tensor,
    target: int | None = None,
    *,
    objective: str = "loss",
    keep_gradients: bool = False,
) -> ResidualGradients:
    """Per residual block: the gradient of L at the block's input, sum and output, its split into the skip
    path and the residual branch, and activation norms.

    Runs the model under its lock with gradients and taps (each block's input is fed through a copy, its sum
    and output are handed on as copies, so the gradients are asked of tensors nothing changes in place); the
    first time for a model and input size, one run without gradients finds the blocks before. Train/eval
    flags, parameters' `requires_grad` and `.grad` are left alone, and `x` is not changed.

    Args:
        model: a classifier returning logits of shape (1, K), usually in eval mode.
        x: the preprocessed image, (1, C, H, W).
        target: the class L is about; None takes the top class.
        objective: "loss" (cross-entropy of `target`) or "score" (its logit).
        keep_gradients: also return the full gradient arrays of every block (`BlockGradients.arrays`).

    Returns:
        The per-block numbers; `blocks` is empty for a network without residual blocks.

    Raises:
        ValueError: `x` is not (1, C, H, W), `objective` is unknown, `target` is out of range, or the model
            does not return (1, K) logits.
        RuntimeError: a block took a different path in the second run than in the first.
    """
    check_image_batch(x)
    x = on_model_device(model, x)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
    if target is not None:
        target = operator.index(target)
    with model_lock(model):
        blocks = find_residual_blocks(model, x)
        by_name = {b.name: b for b in blocks}
        taps: dict[str, _Taps] = {}

        def on_enter(name: str, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            if name not in by_name or not args or not isinstance(args[0], Tensor):
                return None
            given = args[0]
            tap = given.clone() if given.requires_grad else given.detach().requires_grad_(True)
            taps[name] = _Taps(input=tap)
            return (
                tap.clone(),
                *args[1:],
            )  # the block gets a copy: an in-place op in it cannot alter the tap

        def intercept(
            frame: Frame, index: int, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            block = by_name.get(frame.name)
            if block is None or index != block.junction or frame.name not in taps:
                return PASS
            name = getattr(func, "__name__", "")
            tensors = [a for a in args if isinstance(a, Tensor)]
            if name not in ADD_OPS or len(tensors) != 2:
                raise RuntimeError(
                    f"block {frame.name!r} ran differently in the second pass (operation {index} is "
                    f"{name!r}, not the residual sum); its forward must not depend on randomness."
                )
            a, b = tensors
            # `out += identity` arrives as add_, which overwrites `a`: keep a's earlier value as the operand.
            operands = (a.clone(), b) if name.endswith("_") else (a, b)
            result = func(*args, **kwargs)
            tap = taps[frame.name]
            tap.operands, tap.sum = operands, result
            tap.versions = (result._version, operands[0]._version, operands[1]._version)
            # Downstream gets a copy, so a ReLU(inplace=True) after the sum leaves the tap as it was; `out +=`
            # rebinds `out` to it. A statement `a.add_(b)` ignores it: the version check above catches that.
            return result.clone()

        def on_exit(name: str, module: nn.Module, output: Any) -> Any:
            if name not in taps or not isinstance(output, Tensor):
                return None
            taps[name].output = output
            return output.clone()

        with torch.enable_grad():
            inp = x.detach().clone().requires_grad_(True)
            with recording(
                model,
                lambda name, m: name in by_name,
                intercept=intercept,
                on_enter=on_enter,
                on_exit=on_exit,
            ):
                logits = model(inp)
            if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != 1:
                shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
                raise ValueError(
                    f"residual gradients need a classifier returning logits (1, K); got {shape}."
                )
            num_classes = logits.shape[1]
            if target is None:
                target = int(logits[0].argmax())
            elif not 0 <= target < num_classes:
                raise ValueError(f"target must be a class index in 0..{num_classes - 1}, got {target}.")
            value = _objective(logits, target, objective)
            wanted: dict[int, Tensor] = {}
            for tap in taps.values():
                for t in (tap.input, tap.sum, tap.output):
                    if t is not None and t.requires_grad:
                        wanted.setdefault(id(t), t)
            tensors = list(wanted.values())
            grads = (
                torch.autograd.grad(
                    value, tensors, retain_graph=True, allow_unused=True, materialize_grads=True
                )
                if tensors
                else ()
            )
            by_id = {id(t): g for t, g in zip(tensors, grads, strict=True)}
            results = tuple(
                _block_result(block, taps[block.name], by_id, keep_gradients)
                for block in blocks
                if block.name in taps
            )
    probabilities = torch.softmax(logits.detach()[0].float(), dim=0)
    logits_array = logits.detach()[0].float().cpu().numpy().copy()
    logits_array.setflags(write=False)
    return ResidualGradients(
        target=target,
        objective=objective,
        value=float(value.detach()),
        probability=float(probabilities[target]),
        logits=logits_array,
        blocks=results,
    )
