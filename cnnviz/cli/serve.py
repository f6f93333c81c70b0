"""`python -m cnnviz serve --model SPEC [--weights FILE] [--labels FILE] [--name NAME] ... [streamlit opts]`.

Starts the app with your models first in every model picker, chosen, and labelled "your model". `--model` may
be repeated: the options after each `--model` (up to the next) describe that model. Anything that is not a
model option goes to `streamlit run`, e.g. `--server.port 8502 --server.address 0.0.0.0`.

The models are loaded (and every problem reported) before the server starts; they live in the server's
process, so the browser only ever picks among them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cnnviz import models
from cnnviz.cli.errors import CliError
from cnnviz.cli.model_options import ModelOptions, add_model_options, load_model, options_from_args

__all__ = ["add_parser", "prepare", "run_argv", "user_model"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="start the app with your model first", description=__doc__)
    add_model_options(parser, required=False)


def _group_parser() -> argparse.ArgumentParser:
    from cnnviz.cli import _Parser

    parser = _Parser(prog="python -m cnnviz serve", add_help=False)
    add_model_options(parser)
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[ModelOptions], list[str]]:
    """The model option groups (one per `--model`) and the rest, for streamlit.

    Raises:
        CliError: no `--model`, or a model option before any `--model`.
    """
    tokens = list(argv)
    starts = [i for i, tok in enumerate(tokens) if tok == "--model" or tok.startswith("--model=")]
    if not starts:
        raise CliError("serve needs at least one --model SPEC (a zoo name or package.module:callable).")
    rest = tokens[: starts[0]]
    groups = []
    parser = _group_parser()
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(tokens)
        known, unknown = parser.parse_known_args(tokens[start:end])
        groups.append(options_from_args(known))
        rest += unknown
    model_flags = {"--weights", "--labels", "--input-size", "--mean", "--std", "--name", "--untrained"}
    early = [t for t in tokens[: starts[0]] if t.split("=")[0] in model_flags]
    if early:
        raise CliError(f"{early[0]} comes before any --model; put each model's options after its --model.")
    return groups, rest


def user_model(options: ModelOptions) -> models.LoadedModel:
    """The model as the app shows it: a user's model (a zoo model given by name is wrapped as one)."""
    loaded = load_model(options)
    if loaded.spec.source == "user":
        return loaded
    spec = loaded.spec
    return models.from_module(
        loaded.model,
        name=options.name or spec.name,
        categories=loaded.categories,
        input_size=spec.input_size,
        in_channels=spec.in_channels,
        mean=spec.mean,
        std=spec.std,
        transform=spec.transform,
        weights_name=loaded.weights_name,
    )


def prepare(argv: Sequence[str]) -> tuple[list[models.LoadedModel], list[str]]:
    """Loads every model and offers it to the app (`cnnviz.models.add_user_model`); returns them and the
    streamlit options.

    Raises:
        CliError: a model that can't be loaded, or two models with one name.
    """
    groups, rest = split_argv(argv)
    loaded = [user_model(options) for options in groups]
    names = [m.spec.name for m in loaded]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CliError(f"two models are called {twice[0]!r}; give one of them --name.")
    for model in loaded:
        models.add_user_model(model)
    return loaded, rest


def run_argv(argv: Sequence[str]) -> int:
    if any(tok in ("-h", "--help") for tok in argv):
        print(__doc__)
        _group_parser().print_help()
        return 0
    loaded, rest = prepare(argv)
    for model in loaded:
        print(f"your model: {model.spec.name} ({model.spec.family}, {len(model.categories)} classes)")
    from cnnviz.ui.server import run_app

    return run_app(rest)
