"""``brainfit train --task digits``: train a feed-forward spiking stack on scikit-learn's digits.

Argument handling and the runner; ``workbench/cli/train.py`` dispatches ``--task digits`` here.
A progress bar goes to stderr; the summary (or one JSON line with ``--json``) to stdout. The first
Ctrl-C cancels between steps and still saves what was trained (marked cancelled).
"""

from __future__ import annotations

import json
import signal
import sys
import time

from core.errors import ParameterError

from ._task_options import add_task_options, task_value

# option -> (argparse keywords, digits default). Options another task already defined are not
# added twice; their value is filled with the digits default when left unset.
_OPTIONS = {
    "--arch": (dict(help="layer sizes, input to output (digits: 64-...-10)"), "64-256-256-10"),
    "--mode": (dict(choices=["layer_first", "step_first"],
                    help="execution order (identical spikes and gradients)"), "layer_first"),
    "--devices": (dict(type=int, help="shard each batch over this many devices (data "
                                      "parallel; default 1)"), 1),
    "--epochs": (dict(type=int, help="passes over the training set (digits default 20)"), 20),
    "--steps": (dict(type=int, dest="time_steps",
                     help="time steps T each image is encoded over (default 25)"), 25),
    "--batch-size": (dict(type=int, help="samples per step (default 64)"), 64),
    "--lr": (dict(type=float, help="Adam learning rate (default 2e-3, cosine decay)"), 2e-3),
    "--clip": (dict(type=float, help="gradient clipping by global norm (default 1)"), 1.0),
    "--encoding": (dict(choices=["rate", "latency"], help="spike encoding (default rate)"),
                   "rate"),
    "--readout": (dict(choices=["leaky", "count"], help="readout (default leaky)"), "leaky"),
    "--surrogate": (dict(help="surrogate gradient name (brainfit list surrogates)"), "sigmoid"),
    "--seed": (dict(type=int, help="seed of the split, encoding and weights (default 0)"), 0),
    "--out": (dict(help="HDF5 file the trained model is written to (atomically)"), None),
    "--json": (dict(action="store_true", help="end with one JSON line"), False),
}


def add_arguments(p) -> None:
    add_task_options(p, _OPTIONS)


def _value(args, option):
    return task_value(args, _OPTIONS, option)


class _Bar:
    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled, self.start = stream, enabled, time.perf_counter()

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        if not event.total:
            if event.message:
                self.stream.write(f"\n{event.message}\n")
            return
        frac = event.fraction or 0.0
        width = 30
        fill = int(round(frac * width))
        self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {100 * frac:5.1f}%  "
                          f"{event.message}  loss {event.loss:.4f}  acc {100 * event.accuracy:5.1f}%"
                          f"  {time.perf_counter() - self.start:.1f} s ")
        if "test accuracy" in event.message:
            self.stream.write("\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_digits(args) -> int:
    from core.training.feedforward_train import DigitsTrainConfig, DigitsTrainJob

    devices = _value(args, "--devices")
    if devices is not None and devices < 1:
        raise ParameterError(f"--devices must be >= 1, got {devices}")
    cfg = DigitsTrainConfig(
        arch=_value(args, "--arch"), mode=_value(args, "--mode"), T=_value(args, "--steps"),
        encoding=_value(args, "--encoding"), epochs=_value(args, "--epochs"),
        batch_size=_value(args, "--batch-size"), learning_rate=_value(args, "--lr"),
        clip_norm=_value(args, "--clip"), seed=_value(args, "--seed"), devices=devices,
        readout=_value(args, "--readout"), surrogate=_value(args, "--surrogate"))
    as_json = bool(_value(args, "--json"))
    out = _value(args, "--out")
    bar = _Bar(sys.stderr, sys.stderr.isatty() or not as_json)
    cancel = {"flag": False}

    def on_sigint(signum, frame):
        if cancel["flag"]:
            raise KeyboardInterrupt
        cancel["flag"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = DigitsTrainJob(cfg, out_path=out).run(bar, lambda: cancel["flag"])
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.done()
    summary = result.summary() | {"task": "digits", "out": out,
                                  "test_accuracy_per_epoch": [
                                      round(a, 4) for a in result.history["test_accuracy"]]}
    if as_json:
        print(json.dumps(summary))
    else:
        state = "cancelled after" if result.cancelled else "trained for"
        print(f"digits {cfg.arch} {cfg.mode}: {state} {summary['epochs_done']} epochs, test "
              f"accuracy {100 * summary['test_accuracy']:.2f} %, {summary['seconds']:.1f} s on "
              f"{summary['devices']} device(s)" + (f"; wrote {out}" if out else ""))
    return 130 if result.cancelled else 0
