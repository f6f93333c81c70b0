"""The command line: `python -m cnnviz explain|serve|top-images|health ...`.

Every problem with what a command was given ends it with exit code 2 and one sentence on stderr that names
the file, key, layer or model; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one sentence, not argparse's usage block
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    from cnnviz.cli import explain, health, serve, top_images

    top = _Parser(prog="python -m cnnviz", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    explain.add_parser(sub)
    top_images.add_parser(sub)
    health.add_parser(sub)
    serve.add_parser(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns its exit code."""
    from cnnviz.cli.errors import CliError

    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        from cnnviz.cli import serve

        run = serve.run_argv
        try:
            return run(args_list[1:])
        except CliError as err:
            print(f"python -m cnnviz serve: {err}", file=sys.stderr)
            return 2
    args = parser().parse_args(args_list)
    try:
        return int(args.run(args))
    except CliError as err:
        print(f"python -m cnnviz {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug of ours: still one sentence, and the way to see more
        print(
            f"python -m cnnviz {args.command}: unexpected {type(err).__name__}: {err} "
            "(please report it; set CNNVIZ_TRACEBACK=1 to see where)",
            file=sys.stderr,
        )
        import os

        if os.environ.get("CNNVIZ_TRACEBACK"):
            raise
        return 1
