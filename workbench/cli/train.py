"""``brainfit train --task NAME``: train a network headless, one runner per task.

Each task registers in :data:`TASKS` as ``name -> (add_arguments(parser), run(args) -> exit code,
help)``. Every task adds only the options the parser does not have yet, so tasks can share
``--epochs``, ``--seed``, ``--out``, ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import COMMANDS, train_digits, train_evidence

TASKS: dict[str, tuple[Callable, Callable, str]] = {
    "digits": (train_digits.add_arguments, train_digits.run_digits,
               "a feed-forward spiking stack on scikit-learn's digits (layer_first or "
               "step_first, data parallel over --devices)"),
    "evidence": (train_evidence.add_arguments, train_evidence.run_evidence,
                 "the 400-neuron conductance GIF E/I network on the evidence-accumulation task "
                 "(--method bptt|online, --neurons default|FIT.h5)"),
}


def add_arguments(p) -> None:
    p.add_argument("--task", required=True, choices=sorted(TASKS),
                   help="; ".join(f"{name}: {h}" for name, (_, _, h) in sorted(TASKS.items())))
    for add, _run, _help in TASKS.values():
        add(p)


def handler(args) -> int:
    return TASKS[args.task][1](args)


COMMANDS["train"] = (add_arguments, handler, "train a network on a task (digits, evidence)")
