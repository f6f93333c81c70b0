"""What each block's own `forward` does, recorded from a real run: the residual `+` and the SE `×` that no
module hook sees.

A module hook sees a block's input and output, never the functional operations inside its `forward`
(`out + identity`, `x * weights`). This module records, for every block, the graph of the operations the block
performs itself, with its child modules kept opaque: torchvision's `BasicBlock` becomes

    input x -> conv1 -> bn1 -> relu -> conv2 -> bn2 -> add(bn2, x) -> relu

which is what `torch.fx` shows for the block traced with every child as a leaf. The graph is recorded from
the real forward pass instead of a symbolic trace, for three reasons:

- `torch.fx.Tracer.trace` patches `torch.nn.Module.__call__` and `__getattr__` for the whole process while it
  traces, so a model run by another thread at that moment (another Streamlit session) would run into the
  tracer. The recorder is a `TorchFunctionMode`, which is thread-local, plus forward hooks on the model's own
  modules, which are registered and removed under `model_lock(model)` like `cnnviz.hooks`'s.
- A real run follows data-dependent control flow that symbolic tracing refuses, and records exactly the path
  taken (`if self.use_res_connect: ...`).
- The same run can tap an operation: `intercept` may replace the result of a block's own function call, so
  the residual sum becomes a tensor whose gradient can be asked for.

Limits: only calls that reach `__torch_function__` are recorded (torch functions, tensor methods and
operators on tensors); work done by a C++ extension or on Python numbers is not. Operations inside torch.nn's
built-in layers are not recorded (they are leaves, as in torch.fx); torch.nn's plain containers
(`Sequential`, `ModuleList`, `ModuleDict`) are looked through: their children appear as ops of the block
that calls the container. Python operators reach the recorder under
torch's own names: `a + b` as `add`, `a += b` as `add_`, `a * b` as `mul`.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from cnnviz.locks import model_lock

__all__ = [
    "ADD_OPS",
    "MUL_OPS",
    "PASS",
    "SHAPE_OPS",
    "BlockFinder",
    "Frame",
    "Intercept",
    "Op",
    "Recording",
    "check_image_batch",
    "is_builtin",
    "op_name",
    "probe_input",
    "recording",
    "structure_key",
]

ADD_OPS = frozenset({"add", "add_", "__add__", "__radd__", "__iadd__"})
"""Names under which a tensor addition reaches the recorder (`a + b` is `add`, `a += b` is `add_`)."""
MUL_OPS = frozenset({"mul", "mul_", "__mul__", "__rmul__", "__imul__"})
"""Names under which an elementwise product reaches the recorder."""
SHAPE_OPS = frozenset(
    {"view", "reshape", "expand", "expand_as", "unsqueeze", "squeeze", "flatten", "view_as", "contiguous"}
)
"""Operations that only rearrange values (followed through when looking for the op behind a tensor)."""


class _Pass:
    def __repr__(self) -> str:
        return "PASS"


PASS: Any = _Pass()
"""Returned by an `Intercept` to let the call run as usual."""


@dataclass
class Op:
    """One operation a block performed itself, in the order it ran.

    Attributes:
        index: position in `Frame.ops`.
        kind: "input" (a tensor the block was called with), "module" (a call of a submodule, kept opaque) or
            "function" (a torch function, tensor method or operator).
        target: the input's position ("0", "x" for a keyword), the module's name in the model, or the
            function's name ("add", "mul", "mean", ...).
        inputs: the ops of this frame that made its tensor arguments, in argument order; tensors that came
            from elsewhere (parameters, constants) are left out.
        depends: whether the op is reached from the block's input.
        shape: shape of its (first) output tensor.
        module: the submodule, for "module" ops.
        plain: False when the call had keyword arguments (e.g. `torch.add(a, b, alpha=2)`).
        value: a detached copy of its (first) output, when recorded with `keep_values`.
    """

    index: int
    kind: str
    target: str
    inputs: tuple[int, ...]
    depends: bool
    shape: tuple[int, ...] | None
    module: nn.Module | None = None
    plain: bool = True
    value: Tensor | None = field(default=None, repr=False)


@dataclass
class Frame:
    """The operations of one call of one module (the last call when a module runs more than once).

    Attributes:
        name: the module's name in `model.named_modules()` ("" for the model itself).
        module: the module.
        ops: its own operations, in the order they ran.
        outputs: the ops that made the module's output tensors.
    """

    name: str
    module: nn.Module
    ops: list[Op] = field(default_factory=list)
    outputs: tuple[int, ...] = ()

    @property
    def inputs(self) -> list[Op]:
        """The "input" ops: the tensors the module was called with."""
        return [op for op in self.ops if op.kind == "input"]

    def ancestors(self, index: int) -> set[int]:
        """`index` and every op it was computed from."""
        seen = {index}
        todo = [index]
        while todo:
            for i in self.ops[todo.pop()].inputs:
                if i not in seen:
                    seen.add(i)
                    todo.append(i)
        return seen

    def strip_shape_ops(self, index: int) -> int:
        """The op behind `index` once views, reshapes and expansions are followed back (also indexing that
        keeps every value, such as `w[:, :, None, None]`)."""
        op = self.ops[index]
        while op.kind == "function" and op.inputs and self._rearranges(op):
            op = self.ops[op.inputs[0]]
        return op.index

    def _rearranges(self, op: Op) -> bool:
        if op.target in SHAPE_OPS:
            return True
        if op.target != "__getitem__":
            return False
        source = self.ops[op.inputs[0]]
        return (
            op.shape is not None
            and source.shape is not None
            and math.prod(op.shape) == math.prod(source.shape)
        )


Intercept = Callable[[Frame, int, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]
"""`intercept(frame, index, func, args, kwargs)` is called before every function op of a recorded frame
(`index` is the position the op will get); it returns `PASS` to let the call run, or the result to use."""
EnterHook = Callable[[str, nn.Module, tuple[Any, ...]], tuple[Any, ...] | None]
"""`on_enter(name, module, args)` for a recorded module before it runs: None, or new positional args."""
ExitHook = Callable[[str, nn.Module, Any], Any]
"""`on_exit(name, module, output)` for a recorded module after it ran: None, or a replacement output."""


# torch.nn's plain containers only call their children in turn: the recorder looks through them, so an
# `nn.Sequential` of FC, ReLU, FC, Sigmoid inside a block shows as those four ops.
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_builtin(module: nn.Module) -> bool:
    """Whether `module` is one of torch.nn's own layers or containers (a leaf for the recorder)."""
    return type(module).__module__.startswith("torch.nn.modules.")


def structure_key(model: nn.Module, x: Tensor) -> tuple[Any, ...]:
    """What a recorded block structure depends on: which module object sits under which name, each module's
    train/eval flag, and the input's shape and type. Equal keys: the same blocks are found again.
    """
    modules = tuple((name, id(m), m.training) for name, m in model.named_modules())
    return (modules, tuple(x.shape), x.dtype, x.device)


PROBE_SIZE = 224
"""Side of the zeros image that finds blocks when no input is given (ImageNet-sized)."""


def probe_input(model: nn.Module) -> Tensor:
    """A zeros image for the model's first convolution, `PROBE_SIZE` square.

    Raises:
        ValueError: the model has no Conv2d to size it by.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            weight = module.weight
            return torch.zeros(1, module.in_channels, PROBE_SIZE, PROBE_SIZE, dtype=weight.dtype).to(
                weight.device
            )
    raise ValueError("model has no Conv2d layer; pass x, an input of the model's own size.")


def check_image_batch(x: Tensor) -> None:
    """Raises ValueError unless `x` is one preprocessed image, (1, C, H, W)."""
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be one preprocessed image of shape (1, C, H, W), got {shape}.")


B = TypeVar("B")


class BlockFinder(Generic[B]):
    """Finds the blocks of one kind (residual, SE, ...) in one recorded forward pass without gradients.

    `classify(frame)` turns a block's recorded frame into a description, or None when the frame isn't one.
    The answer is remembered per model object while `structure_key` stays the same, because a page asks again
    for every image and class; weak keys, so the memo never keeps a model alive (descriptions hold names).
    """

    def __init__(self, classify: Callable[[Frame], B | None]) -> None:
        self._classify = classify
        self._found: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], tuple[B, ...]]] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, model: nn.Module, x: Tensor | None = None) -> list[B]:
        """The blocks of `model` in `named_modules()` order; `x` defaults to `probe_input(model)`."""
        if x is None:
            x = probe_input(model)
        with model_lock(model):
            key = structure_key(model, x)
            cached = self._found.get(model)
            if cached is not None and cached[0] == key:
                return list(cached[1])
            with torch.no_grad(), recording(model) as rec:
                model(x)
            order = {name: i for i, (name, _) in enumerate(model.named_modules())}
            named = [(name, self._classify(frame)) for name, frame in rec.frames.items()]
            named.sort(key=lambda item: order.get(item[0], len(order)))
            blocks = tuple(b for _, b in named if b is not None)
            self._found[model] = (key, blocks)
            return list(blocks)


def op_name(op: Op) -> str:
    """A short readable name: the module's class for "module" ops, the function's name otherwise."""
    if op.kind == "module" and op.module is not None:
        return type(op.module).__name__
    return op.target


def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, tuple | list):
        found = []
        for item in obj:
            found.extend(_tensors(item))
        return found
    return []


@dataclass
class _Active:
    """A module call in progress."""

    name: str
    module: nn.Module
    frame: Frame | None  # None: not recorded (a built-in layer, or not watched)
    producers: dict[int, tuple[int, Tensor]]  # id(tensor) -> (op index, the tensor, kept so the id stays its)
    parent_inputs: tuple[int, ...]
    parent_depends: bool
    transparent: bool = False  # a plain container: shares the enclosing frame


class Recording(TorchFunctionMode):
    """Records frames while the model runs inside `recording()`; read `frames` afterwards."""

    def __init__(
        self,
        names: dict[int, str],
        watch: Callable[[str, nn.Module], bool],
        keep_values: bool,
        intercept: Intercept | None,
        on_enter: EnterHook | None,
        on_exit: ExitHook | None,
    ) -> None:
        super().__init__()
        self.frames: dict[str, Frame] = {}
        self._names = names
        self._watch = watch
        self._keep = keep_values
        self._intercept = intercept
        self._on_enter = on_enter
        self._on_exit = on_exit
        self._stack: list[_Active] = []
        self._busy = 0  # > 0 while our own hooks run torch functions: those are not the model's
        # The hooks sit on the model's modules; a thread that runs the model without taking its lock must
        # not write into this recording (the mode itself is thread-local).
        self._thread = threading.get_ident()

    # --- torch functions ------------------------------------------------------------------------------

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        active = self._stack[-1] if self._stack else None
        if self._busy or active is None or active.frame is None:
            return func(*args, **kwargs)
        frame = active.frame
        inputs, depends = self._lookup(active, _tensors((args, kwargs)))
        index = len(frame.ops)
        result = PASS
        if self._intercept is not None:
            result = self._intercept(frame, index, func, args, kwargs)
        if result is PASS:
            result = func(*args, **kwargs)
        outputs = _tensors(result)
        if outputs:  # `.shape`, `.dim()` and other non-tensor results are not dataflow
            name = getattr(func, "__name__", type(func).__name__)
            self._add(active, "function", name, inputs, depends, outputs, plain=not kwargs)
        return result

    # --- module hooks ---------------------------------------------------------------------------------

    def _pre_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if threading.get_ident() != self._thread:
            return None
        self._busy += 1
        try:
            name = self._names.get(id(module), "?")
            parent = self._stack[-1] if self._stack else None
            parent_inputs: tuple[int, ...] = ()
            parent_depends = False
            if parent is not None and parent.frame is not None:
                parent_inputs, parent_depends = self._lookup(parent, _tensors((args, kwargs)))
            if type(module) in _CONTAINERS:
                # See-through: the container's children are recorded as ops of the enclosing frame.
                frame_of_parent = parent.frame if parent is not None else None
                producers = parent.producers if parent is not None else {}
                self._stack.append(_Active(name, module, frame_of_parent, producers, (), False, True))
                return None
            watched = not is_builtin(module) and self._watch(name, module)
            replaced = None
            if watched and self._on_enter is not None:
                replaced = self._on_enter(name, module, args)
            call_args = args if replaced is None else replaced
            frame = Frame(name, module) if watched else None
            active = _Active(name, module, frame, {}, parent_inputs, parent_depends)
            if frame is not None:
                named = [(str(i), a) for i, a in enumerate(call_args)] + list(kwargs.items())
                for key, value in named:
                    for t in _tensors(value):
                        self._add(active, "input", key, (), True, [t])
            self._stack.append(active)
            return None if replaced is None else (replaced, kwargs)
        finally:
            self._busy -= 1

    def _post_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> Any:
        if threading.get_ident() != self._thread:
            return None
        self._busy += 1
        try:
            # A module that caught an exception from a child leaves the child's entry behind: drop it.
            while self._stack and self._stack[-1].module is not module:
                self._stack.pop()
            if not self._stack:
                return None
            active = self._stack.pop()
            if active.transparent:
                return None
            replaced = None
            if active.frame is not None:
                frame = active.frame
                frame.outputs, _ = self._lookup(active, _tensors(output))
                active.producers.clear()  # the frame is done: let its tensors go
                self.frames[active.name] = frame
                if self._on_exit is not None:
                    replaced = self._on_exit(active.name, module, output)
            parent = self._stack[-1] if self._stack else None
            if parent is not None and parent.frame is not None:
                handed = output if replaced is None else replaced
                self._add(
                    parent,
                    "module",
                    active.name,
                    active.parent_inputs,
                    active.parent_depends,
                    _tensors(handed),
                    module=module,
                )
            return replaced
        finally:
            self._busy -= 1

    # --- bookkeeping ----------------------------------------------------------------------------------

    @staticmethod
    def _lookup(active: _Active, tensors: list[Tensor]) -> tuple[tuple[int, ...], bool]:
        """The ops that made `tensors` in `active`'s frame, and whether any of them depends on its input."""
        frame = active.frame
        assert frame is not None
        inputs = []
        for t in tensors:
            found = active.producers.get(id(t))
            if found is not None and found[1] is t:
                inputs.append(found[0])
        return tuple(inputs), any(frame.ops[i].depends for i in inputs)

    def _add(
        self,
        active: _Active,
        kind: str,
        target: str,
        inputs: tuple[int, ...],
        depends: bool,
        outputs: list[Tensor],
        module: nn.Module | None = None,
        plain: bool = True,
    ) -> None:
        frame = active.frame
        assert frame is not None
        index = len(frame.ops)
        first = outputs[0] if outputs else None
        value = None
        if self._keep and first is not None:
            self._busy += 1
            try:
                value = first.detach().clone()
            finally:
                self._busy -= 1
        frame.ops.append(
            Op(
                index=index,
                kind=kind,
                target=target,
                inputs=inputs,
                depends=depends,
                shape=tuple(first.shape) if first is not None else None,
                module=module,
                plain=plain,
                value=value,
            )
        )
        for t in outputs:  # an in-place op's output is its input: the newest op becomes its producer
            active.producers[id(t)] = (index, t)


@contextmanager
def recording(
    model: nn.Module,
    watch: Callable[[str, nn.Module], bool] | None = None,
    *,
    keep_values: bool = False,
    intercept: Intercept | None = None,
    on_enter: EnterHook | None = None,
    on_exit: ExitHook | None = None,
) -> Iterator[Recording]:
    """Records the frames of `model`'s modules while the block runs the model once.

    Holds `model_lock(model)` for the block; every hook is removed on leaving, also after an exception.

    Args:
        model: any module.
        watch: `watch(name, module)` says which modules get a frame; default every module that is not a
            built-in torch.nn layer or container.
        keep_values: keep a detached copy of each op's output (`Op.value`).
        intercept: may replace the result of a recorded frame's function calls (see `Intercept`).
        on_enter: may replace a recorded module's positional arguments before it runs.
        on_exit: may replace a recorded module's output after it ran.

    Yields:
        The Recording; its `frames` map module names to the frame of their last call.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    names = {id(m): n for n, m in modules.items()}
    rec = Recording(names, watch or (lambda name, module: True), keep_values, intercept, on_enter, on_exit)
    with model_lock(model):
        handles = []
        try:
            for module in modules.values():
                handles.append(module.register_forward_pre_hook(rec._pre_hook, with_kwargs=True))
                handles.append(module.register_forward_hook(rec._post_hook, with_kwargs=True))
            with rec:
                yield rec
        finally:
            for handle in handles:
                handle.remove()
            rec._stack.clear()
