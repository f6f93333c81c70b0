"""The whole network at a glance: every layer in execution order with a strip of small channel maps, and the
edges of the real dataflow between them (which layer feeds which), from one recorded forward pass.

    ov = overview(model, x)
    [n.label for n in ov.nodes]   # "input", "conv1", "tanh1", ..., "layer1.0: add_", ...
    ov.edges                      # ((0, 1), (1, 2), ...): node 0 feeds node 1, ...

Where the edges come from: `cnnviz.analysis.dataflow.recording` records, for every block of the model (any
module that is not one of torch.nn's own layers), the operations its `forward` performs, each with the ops
whose tensors it consumed; torch.nn's layers are leaves and its containers (`Sequential`, ...) are looked
through. A block's operations are joined to the block's caller through its inputs and outputs, so the graph
runs across blocks: a ResNet block's `out += identity` becomes an "add_" node fed by the last batch norm and
by the block's input (or its downsample branch). Nodes are the leaf layers and the functional operations (the
residual sum, `torch.flatten`, an SE block's product) that the input's data flows through, in the order they
ran. Operations on constants that don't depend on the input are left out. A block called more than once is
recorded with its last call (the recorder keeps one frame per block).

Large networks (more nodes than `max_nodes`) are summarised: nodes are grouped by the first `level` parts of
their module names (`features.3.conv.0.1` at level 2 is `features.3`), a group is drawn with its last node's
output (what the group hands on), and edges join groups. The level chosen is the most detailed one that fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.analysis.dataflow import Frame, check_image_batch, is_builtin, recording
from cnnviz.locks import model_lock
from cnnviz.tensors import on_model_device

__all__ = ["Overview", "OverviewNode", "overview", "thumbnails"]

INPUT = "input"


@dataclass(frozen=True)
class OverviewNode:
    """One layer (or group of layers) of the overview.

    Attributes:
        index: position in `Overview.nodes` (execution order; 0 is the input).
        label: what the node is called: a module name ("layer1.0.conv1"), "block: op" for a functional
            operation inside a block ("layer1.0: add_", "model: flatten" at the top level), or a group's name.
        path: the module the node belongs to: the layer's own name, the block a function ran in ("" for the
            model itself), or the group's name.
        kind: the layer's class ("Conv2d"), the function's name ("add_"), or for a group its module's class.
        shape: shape of the output, batch included, e.g. (1, 6, 28, 28); None if it is not a tensor.
        channels: (n,) the channels shown, most active (by mean) first.
        thumbnails: (n, size, size) uint8, one small map per shown channel; (0, size, size) for outputs that
            are not feature maps (vectors, scalars).
        members: how many layers a group stands for (1 for a layer).
    """

    index: int
    label: str
    path: str
    kind: str
    shape: tuple[int, ...] | None
    channels: np.ndarray = field(repr=False)
    thumbnails: np.ndarray = field(repr=False)
    members: int = 1


@dataclass(frozen=True)
class Overview:
    """Every layer of one forward pass, and the dataflow between them.

    Attributes:
        nodes: in execution order; `nodes[0]` is the input.
        edges: (producer, consumer) node indices, in consumer order, each pair once.
        level: None when every layer is a node; else the name depth the nodes were grouped by.
        layers: how many layer nodes (input excluded) the full graph has, grouped or not.
    """

    nodes: tuple[OverviewNode, ...]
    edges: tuple[tuple[int, int], ...]
    level: int | None
    layers: int

    def feeds(self, index: int) -> list[int]:
        """The nodes that node `index`'s output goes to."""
        return [v for u, v in self.edges if u == index]

    def fed_by(self, index: int) -> list[int]:
        """The nodes whose outputs node `index` consumes."""
        return [u for u, v in self.edges if v == index]


class _Root(nn.Module):
    """Wraps the model so that its own forward (even a plain `nn.Sequential`'s) is a recorded frame."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> object:
        return self.model(x)


@dataclass
class _Raw:
    label: str
    path: str
    kind: str
    value: Tensor | None


def _strip(name: str) -> str:
    """A name in the wrapper ("model.layer1.0") as the model's own ("layer1.0"; "" for the model)."""
    return "" if name == "model" else name.removeprefix("model.")


def _graph(frames: dict[str, Frame], x: Tensor) -> tuple[list[_Raw], list[tuple[int, int]]]:
    """Nodes and edges of the whole recorded pass, blocks joined through their inputs and outputs."""
    raws = [_Raw(INPUT, "", INPUT, x.detach())]
    edges: list[tuple[int, int]] = []

    def walk(frame: Frame, sources: list[set[int]]) -> set[int]:
        made: list[set[int]] = []
        inputs_seen = 0
        path = _strip(frame.name)
        for op in frame.ops:
            fed = set().union(*(made[i] for i in op.inputs)) if op.inputs else set()
            if op.kind == "input":
                made.append(sources[inputs_seen] if inputs_seen < len(sources) else set().union(*sources))
                inputs_seen += 1
            elif op.kind == "module" and op.module is not None and not is_builtin(op.module):
                child = frames.get(op.target)
                made.append(walk(child, [made[i] for i in op.inputs]) if child is not None else fed)
            elif not op.depends:
                made.append(set())  # made from constants, not from the input's data
            else:
                index = len(raws)
                if op.kind == "module" and op.module is not None:
                    raws.append(
                        _Raw(_strip(op.target), _strip(op.target), type(op.module).__name__, op.value)
                    )
                else:
                    raws.append(_Raw(f"{path or 'model'}: {op.target}", path, op.target, op.value))
                edges.extend((u, index) for u in sorted(fed))
                made.append({index})
        return set().union(*(made[i] for i in frame.outputs)) if frame.outputs else set()

    walk(frames[""], [{0}])
    return raws, list(dict.fromkeys(edges))


def thumbnails(fmap: np.ndarray, channels: np.ndarray, size: int) -> np.ndarray:
    """Small maps of `channels` of a (C, H, W) map, (n, size, size) uint8.

    Each channel is resized to size × size by area averaging (every thumbnail pixel the mean of the map
    pixels it covers; `F.interpolate(mode="area")`) when the map is at least that large, else by repeating
    pixels (nearest); then all shown channels share one scale, the layer's min -> 0 and max -> 255, so a
    brighter thumbnail is a stronger channel.
    """
    if len(channels) == 0:
        return np.zeros((0, size, size), np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(fmap[channels], dtype=np.float32))[None]
    mode = "area" if min(t.shape[2:]) >= size else "nearest"
    small = F.interpolate(t, size=(size, size), mode=mode)[0].numpy().astype(np.float64)
    lo, hi = float(small.min()), float(small.max())
    scaled = (small - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(small)
    return np.round(scaled).astype(np.uint8)


def _node(index: int, raw: _Raw, channels: int, size: int, members: int = 1) -> OverviewNode:
    value = raw.value
    shape = tuple(value.shape) if value is not None else None
    shown = np.zeros(0, np.int64)
    thumbs = np.zeros((0, size, size), np.uint8)
    if value is not None and value.dim() == 4 and value.is_floating_point() and value.shape[2] > 1:
        fmap = value[0].float().cpu().numpy()
        means = fmap.reshape(fmap.shape[0], -1).mean(axis=1)
        shown = np.argsort(-means, kind="stable")[:channels]
        thumbs = thumbnails(fmap, shown, size)
    for a in (shown, thumbs):
        a.setflags(write=False)
    return OverviewNode(index, raw.label, raw.path, raw.kind, shape, shown, thumbs, members)


def _group_key(raw: _Raw, level: int) -> str:
    if raw.kind == INPUT or not raw.path:
        return "\0" + raw.label  # the input and top-level functions stand alone
    return ".".join(raw.path.split(".")[:level])


def overview(
    model: nn.Module,
    x: Tensor,
    *,
    max_nodes: int = 48,
    channels: int = 6,
    size: int = 32,
) -> Overview:
    """Runs `model` once on `x`, recording its dataflow, and returns every layer with small channel maps.

    Args:
        model: any module; it runs on its own device and `x` is moved there.
        x: one preprocessed image, (1, C, H, W).
        max_nodes: more layers than this are grouped by module name (see the module docstring); pass a large
            number for every layer.
        channels: how many channel maps per node (the most active ones).
        size: side of each thumbnail in pixels.

    Raises:
        ValueError: `x` is not one image, or a setting is not positive.
    """
    check_image_batch(x)
    for what, value in (("max_nodes", max_nodes), ("channels", channels), ("size", size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    x = on_model_device(model, x)
    root = _Root(model)
    with model_lock(model), torch.no_grad(), recording(root, keep_values=True) as rec:
        root(x)
    raws, edges = _graph(rec.frames, x)
    layers = len(raws) - 1
    if layers <= max_nodes:
        nodes = tuple(_node(i, raw, channels, size) for i, raw in enumerate(raws))
        return Overview(nodes, tuple(edges), None, layers)

    depth = max(len(r.path.split(".")) for r in raws if r.path)
    level = 1
    for d in range(1, depth + 1):
        if len({_group_key(r, d) for r in raws}) - 1 <= max_nodes:
            level = d
    keys = [_group_key(r, level) for r in raws]
    order = list(dict.fromkeys(keys))  # groups in order of their first layer
    position = {k: i for i, k in enumerate(order)}
    last: dict[str, int] = {}
    count: dict[str, int] = {}
    for i, k in enumerate(keys):
        last[k] = i
        count[k] = count.get(k, 0) + 1
    modules = dict(model.named_modules())
    grouped = []
    for i, k in enumerate(order):
        raw = raws[last[k]]
        if count[k] > 1 or (not k.startswith("\0") and k != raw.path):
            name = k.lstrip("\0")
            kind = type(modules[name]).__name__ if name in modules else raw.kind
            raw = _Raw(name, name, kind, raw.value)
        grouped.append(_node(i, raw, channels, size, count[k]))
    group_edges = [(position[keys[u]], position[keys[v]]) for u, v in edges if keys[u] != keys[v]]
    return Overview(tuple(grouped), tuple(dict.fromkeys(group_edges)), level, layers)
