"""The headless command line: ``brainfit list|info|fit|predict|simulate|train|bench``.

``brainfit`` without a sub-command opens the workbench; the GUI launcher is injected by
:mod:`workbench.launcher`. This package prints (it is the terminal's front-end, as the windows are
the GUI's); it never imports Qt, so it runs on servers without a display, and ``core`` under it
reports only through return values and job events.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from core import __version__
from core.errors import BrainfitError

EXIT_USAGE = 2


def _cmd_list(args) -> int:
    from core.integrate import SOLVERS
    from core.models import MODELS
    from core.surrogate import SURROGATES

    table = {"models": MODELS, "solvers": SOLVERS, "surrogates": SURROGATES}[args.what]
    rows = [{"name": name, "description": cls.doc} for name, cls in sorted(table.items())]
    if args.what == "models":
        for row in rows:
            cls = MODELS[row["name"]]
            row["parameters"] = [
                {"name": p.name, "default": p.default, "lower": p.lower, "upper": p.upper,
                 "unit": p.unit, "fitted": p.fitted, "doc": p.doc} for p in cls.PARAMS]
    if args.what == "solvers":
        for row in rows:
            row["order"] = SOLVERS[row["name"]].order
    if args.json:
        print(json.dumps(rows))
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['description']}")
    return 0


# Sub-commands register here: name -> (add_arguments(parser), handler(args) -> exit code, help).
# Modules listed in _load_plugins add their own entries.
COMMANDS: dict[str, tuple[Callable, Callable, str]] = {}


def _add_list(p):
    p.add_argument("what", choices=["models", "solvers", "surrogates"])
    p.add_argument("--json", action="store_true", help="machine-readable output")


COMMANDS["list"] = (_add_list, _cmd_list, "list the registered models, solvers or surrogates")


def _load_plugins() -> None:
    """Import the modules that register sub-commands (kept lazy: JAX-heavy imports only on use)."""
    import importlib

    for module in ("workbench.cli.info", "workbench.cli.fit", "workbench.cli.simulate",
                   "workbench.cli.train", "workbench.cli.batch"):
        importlib.import_module(module)


def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="brainfit",
        description="Brainfit Workbench: differentiable brain modeling. Without a command, "
                    "opens the workbench window.")
    parser.add_argument("--version", action="version", version=f"brainfit {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the workbench with the example and run the optimizer comparison")
    parser.add_argument("--self-test", action="store_true",
                        help="run the offscreen self-test and print a one-line JSON verdict")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_arguments, _handler, help_text) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None, open_gui: Callable | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in COMMANDS:
        args = parser.parse_args(argv)
    else:  # GUI options and files to open: keep sub-parsers from claiming file names
        gui = argparse.ArgumentParser(prog="brainfit", add_help=False)
        gui.add_argument("--demo", action="store_true")
        gui.add_argument("--self-test", action="store_true")
        gui.add_argument("files", nargs="*")
        if any(a in ("-h", "--help", "--version") for a in argv):
            parser.parse_args(argv)
        args, unknown = gui.parse_known_args(argv)
        if unknown:
            parser.error(f"unrecognised arguments: {' '.join(unknown)}")
        args.command = None
    if args.command is None:
        if open_gui is None:
            parser.error("no command given (the workbench GUI is not available here)")
        return int(open_gui(args) or 0)
    handler = COMMANDS[args.command][1]
    try:
        return int(handler(args) or 0)
    except BrainfitError as exc:
        print(f"brainfit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
