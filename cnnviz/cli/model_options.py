"""The model options every command shares, and how they become a `LoadedModel`.

    --model SPEC [--weights FILE] [--labels FILE] [--input-size N] [--mean M ...] [--std S ...] [--name NAME]

SPEC is a zoo name (`python -m cnnviz explain --help` lists them) or `package.module:callable`, imported from
the current directory or PYTHONPATH: code chosen by whoever runs the command, never by a browser. Weights are
read as data only (`cnnviz.models.checkpoint`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from cnnviz import models
from cnnviz.cli.errors import CliError
from cnnviz.models import checkpoint

__all__ = ["ModelOptions", "add_model_options", "build_module", "load_model", "options_from_args"]


@dataclass(frozen=True)
class ModelOptions:
    """One model as the command line describes it."""

    spec: str
    weights: str | None = None
    labels: str | None = None
    input_size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    name: str | None = None
    untrained: bool = False


def add_model_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        required=required,
        metavar="SPEC",
        help="a zoo name (e.g. lenet5, resnet18) or package.module:callable returning an nn.Module",
    )
    group.add_argument("--weights", metavar="FILE", help="a state dict: .safetensors, or .pt/.pth/.bin/.ckpt")
    group.add_argument(
        "--labels", metavar="FILE", help="class names: a text file (one per line) or JSON list"
    )
    group.add_argument("--input-size", type=int, metavar="N", help="the side the image is resized to")
    group.add_argument("--mean", type=float, nargs="+", metavar="M", help="one value, or one per channel")
    group.add_argument("--std", type=float, nargs="+", metavar="S", help="one value, or one per channel")
    group.add_argument("--name", help="what the report and the app call the model")
    group.add_argument(
        "--untrained", action="store_true", help="a zoo model with untrained weights (no trained ones here)"
    )


def options_from_args(args: argparse.Namespace) -> ModelOptions:
    return ModelOptions(
        spec=args.model,
        weights=args.weights,
        labels=args.labels,
        input_size=args.input_size,
        mean=tuple(args.mean) if args.mean else None,
        std=tuple(args.std) if args.std else None,
        name=args.name,
        untrained=bool(getattr(args, "untrained", False)),
    )


def _import_callable(spec: str) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CliError(f"--model {spec!r} must be a zoo name or package.module:callable.")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # "imported from the current directory or PYTHONPATH"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise CliError(
            f"--model {spec!r}: cannot import {module_name!r} ({err}); run from the folder that holds it or "
            "add that folder to PYTHONPATH."
        ) from None
    except Exception as err:  # the user's module ran and failed: say how, without its traceback
        raise CliError(
            f"--model {spec!r}: importing {module_name!r} failed: {type(err).__name__}: {err}"
        ) from None
    target: object = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise CliError(f"--model {spec!r}: {module_name!r} has no attribute {attr!r}.")
        target = getattr(target, part)
    if not callable(target):
        raise CliError(f"--model {spec!r}: {attr!r} is not callable.")
    try:
        built = target()
    except Exception as err:
        raise CliError(f"--model {spec!r}: calling {attr}() failed: {type(err).__name__}: {err}") from None
    if not isinstance(built, nn.Module):
        raise CliError(
            f"--model {spec!r}: {attr}() returned a {type(built).__name__}, not a torch nn.Module."
        )
    return built


def build_module(options: ModelOptions) -> tuple[nn.Module, models.ModelSpec | None]:
    """The network SPEC names (untrained for a zoo name) and its zoo entry (None for a callable)."""
    if ":" in options.spec:
        return _import_callable(options.spec), None
    try:
        spec = models.get_spec(options.spec)
    except KeyError:
        names = ", ".join(s.name for s in models.list_specs("classification"))
        raise CliError(
            f"--model {options.spec!r} is neither a zoo name nor package.module:callable; zoo classifiers: "
            f"{names}."
        ) from None
    return models.build_untrained(spec), spec


def _read_file(flag: str, path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{flag} {path}: no such file.")
    return file


def load_model(options: ModelOptions) -> models.LoadedModel:
    """The model the options describe, in eval mode.

    A zoo name alone loads the zoo's trained weights (`--untrained` for untrained ones). With `--weights`,
    a zoo architecture takes the checkpoint's class count (its head is resized) and a callable's network
    must fit the checkpoint exactly.

    Raises:
        CliError: every problem, as one sentence naming the file, key, layer or model.
    """
    custom = any(
        v is not None
        for v in (options.weights, options.labels, options.input_size, options.mean, options.std)
    )
    if ":" not in options.spec and not custom and options.name is None:
        try:
            zoo = models.get_spec(options.spec)
        except KeyError:
            build_module(options)  # raises the sentence
            raise
        try:
            return models.load(zoo.name, pretrained=not options.untrained, progress=False)
        except models.WeightsMissingError as err:
            raise CliError(f"{err} (or pass --untrained)") from None
    net, spec = build_module(options)
    weights_name = ""
    if options.weights:
        file = _read_file("--weights", options.weights)
        try:
            state = checkpoint.read_state_dict(file, name=file.name)
            checkpoint.fit_state_dict(net, state, resize_head=spec is not None, name=file.name)
        except checkpoint.CheckpointError as err:
            raise CliError(str(err)) from None
        weights_name = file.name
    elif spec is not None and not options.untrained and spec.weight_source is not None:
        try:
            net = models.load(spec.name, progress=False).model
            weights_name = spec.weight_source.describe()
        except models.WeightsMissingError as err:
            raise CliError(f"{err} (or pass --untrained)") from None
    categories = None
    if options.labels:
        file = _read_file("--labels", options.labels)
        try:
            categories = checkpoint.read_labels(file, name=file.name)
        except checkpoint.CheckpointError as err:
            raise CliError(str(err)) from None
    elif spec is not None and spec.categories and not _resized(net, spec):
        categories = list(spec.categories)
    resized = options.input_size is not None or options.mean is not None or options.std is not None
    try:
        return models.from_module(
            net,
            name=options.name or options.spec,
            categories=categories,
            input_size=options.input_size or (spec.input_size if spec is not None else 224),
            in_channels=spec.in_channels if spec is not None else None,
            mean=options.mean if options.mean is not None else (spec.mean if spec is not None else None),
            std=options.std if options.std is not None else (spec.std if spec is not None else None),
            transform=spec.transform if spec is not None and not resized else None,
            weights_name=weights_name or ("untrained" if options.untrained else "as built"),
        )
    except (ValueError, TypeError) as err:
        where = f" with --labels {options.labels}" if options.labels else ""
        raise CliError(f"--model {options.spec}{where}: {err}") from None


def _resized(net: nn.Module, spec: models.ModelSpec) -> bool:
    """Whether the checkpoint gave the zoo architecture another class count than the zoo's names."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    if not last:
        return False
    head = last[-1]
    classes = head.out_features if isinstance(head, nn.Linear) else head.out_channels
    return classes != len(spec.categories)
