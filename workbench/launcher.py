"""The ``brainfit`` console script: headless sub-commands go to :mod:`workbench.cli`; no sub-command
opens the workbench (or runs ``--self-test`` / ``--demo``)."""

from __future__ import annotations

import sys


def open_gui(args) -> int:
    from .app import run_app

    return run_app(files=args.files, demo=args.demo, self_test=args.self_test)


def main(argv=None) -> int:
    from workbench.cli import main as cli_main

    return cli_main(argv, open_gui=open_gui)


if __name__ == "__main__":
    sys.exit(main())
