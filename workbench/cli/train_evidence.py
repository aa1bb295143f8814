"""``brainfit train --task evidence``: the E/I network on the evidence-accumulation task.

``--method bptt|online`` (``--rule es-d-rtrl|d-rtrl`` for online), ``--neurons default|FIT.h5``
(a GIF fit result parameterises every neuron), ``--batches``, ``--batch-size``, ``--out``. A
progress bar goes to stderr; the summary (or one JSON line with ``--json``) to stdout. The first
Ctrl-C cancels between batches and still saves the best weights so far (marked cancelled).
"""

from __future__ import annotations

import json
import signal
import sys
import time

from ._task_options import add_task_options, task_value

# option -> (argparse keywords, evidence default); options another task already added are
# shared, their value filled with the evidence default when left unset.
_OPTIONS = {
    "--method": (dict(choices=["bptt", "online"], help="evidence: gradient by BPTT or by the "
                      "online eligibility-trace rule (default bptt)"), "bptt"),
    "--rule": (dict(choices=["es-d-rtrl", "d-rtrl"], help="evidence, online: es-d-rtrl "
                    "(O(neurons) memory, default) or d-rtrl (exact e-prop, O(synapses))"),
               "es-d-rtrl"),
    "--neurons": (dict(help="evidence: 'default' or a GIF fit result (.h5) whose parameters "
                       "every network neuron takes"), "default"),
    "--batches": (dict(type=int, help="evidence: optimiser steps (default 200)"), 200),
    "--batch-size": (dict(type=int, help="trials per step (default 64)"), 64),
    "--lr": (dict(type=float, help="Adam learning rate (evidence default 1e-3)"), 1e-3),
    "--clip": (dict(type=float, help="gradient clipping by global norm (default 1)"), 1.0),
    "--surrogate": (dict(help="surrogate gradient name (evidence default relu_grad, height "
                         "0.3)"), "relu_grad"),
    "--synapses": (dict(choices=["dense", "csr"], help="evidence: synapses as dense matrices "
                        "(default; fastest on CPU at 400 neurons) or through the event-driven "
                        "CSR operator (same values and gradients)"), "dense"),
    "--detach": (dict(action="store_true", help="evidence, bptt: detach the recurrent spikes "
                      "(the gradient the online rule computes)"), False),
    "--carry-clip": (dict(type=float, help="evidence, bptt: clip the state's gradient per step "
                          "(keeps the full gradient finite on long trials)"), None),
    "--checkpoint": (dict(type=int, help="evidence, bptt: steps per checkpoint segment "
                          "(default 100; 0 keeps every step)"), 100),
    "--heldout": (dict(type=int, help="evidence: held-out trials (default 512)"), 512),
    "--eval-every": (dict(type=int, help="evidence: batches between held-out evaluations "
                          "(default 25)"), 25),
    "--cues": (dict(type=int, help="evidence: cues per trial (default 7)"), 7),
    "--delay-ms": (dict(type=float, help="evidence: delay before recall (default 1000 ms)"),
                   1000.0),
    "--n-exc": (dict(type=int, help="evidence: excitatory neurons (default 320)"), 320),
    "--n-inh": (dict(type=int, help="evidence: inhibitory neurons (default 80)"), 80),
    "--p": (dict(type=float, help="evidence: recurrent connection probability (default 0.1)"),
            0.1),
    "--connectome": (dict(help="evidence: a population-level connectome file (CSV, NPZ or "
                          "HDF5; labels E and I, rows presynaptic) whose E->E, E->I, I->E, I->I "
                          "probabilities replace --p"), None),
    "--baseline-trials": (dict(type=int, help="evidence: training trials of the reservoir "
                               "baseline's readout (default 1024; 0 skips it)"), 1024),
    "--seed": (dict(type=int, help="seed of the weights and the training trials (default 0)"),
               0),
    "--out": (dict(help="HDF5 file the trained network is written to (atomically)"), None),
    "--json": (dict(action="store_true", help="end with one JSON line"), False),
}


def add_arguments(p) -> None:
    add_task_options(p, _OPTIONS)


def _value(args, option):
    return task_value(args, _OPTIONS, option)


class _Bar:
    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled, self.start = stream, enabled, time.perf_counter()
        self.held = float("nan")

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        held = getattr(event, "heldout_accuracy", float("nan"))
        if held == held:
            self.held = held
        if not event.total or not event.step:
            if event.message:
                self.stream.write(f"\n{event.message}\n")
                self.stream.flush()
            return
        frac = event.fraction or 0.0
        fill = int(round(frac * 30))
        skipped = "" if getattr(event, "finite", True) else "  NON-FINITE GRADIENT, skipped"
        self.stream.write(
            f"\r[{'#' * fill}{'.' * (30 - fill)}] {event.step}/{event.total}  loss "
            f"{event.loss:.3f}  batch acc {100 * event.accuracy:5.1f}%  held-out "
            f"{100 * self.held:5.1f}%  {event.seconds:.2f} s/batch  "
            f"{time.perf_counter() - self.start:.0f} s{skipped} ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_evidence(args) -> int:
    from core.training.ei_network import DEFAULT_SURROGATE_PARAMS, connectome_probabilities
    from core.training.evidence import EvidenceTrainJob, gradient_agreement, make_config

    connectome = _value(args, "--connectome")
    p_matrix = connectome_probabilities(connectome) if connectome else None
    checkpoint = _value(args, "--checkpoint")
    surrogate = _value(args, "--surrogate")
    sparams = dict(DEFAULT_SURROGATE_PARAMS) if surrogate == "relu_grad" else {}
    cfg = make_config(
        _value(args, "--method"), _value(args, "--neurons"), rule=_value(args, "--rule"),
        detach_recurrent=bool(_value(args, "--detach")), checkpoint=checkpoint or None,
        carry_clip=_value(args, "--carry-clip"), batches=_value(args, "--batches"),
        batch_size=_value(args, "--batch-size"), learning_rate=_value(args, "--lr"),
        clip_norm=_value(args, "--clip"), seed=_value(args, "--seed"),
        n_heldout=_value(args, "--heldout"), eval_every=_value(args, "--eval-every"),
        baseline_trials=_value(args, "--baseline-trials"),
        network=dict(n_exc=_value(args, "--n-exc"), n_inh=_value(args, "--n-inh"),
                     p=_value(args, "--p"), p_matrix=p_matrix,
                     synapses=_value(args, "--synapses"),
                     surrogate=surrogate, surrogate_params=sparams),
        task=dict(n_cues=_value(args, "--cues"), delay_ms=_value(args, "--delay-ms")))
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
        job = EvidenceTrainJob(cfg, out_path=None)
        result = job.run(bar, lambda: cancel["flag"])
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.done()
    if not result.cancelled and cfg.method == "online":  # how close to BPTT is the rule here
        result.gradient = gradient_agreement(cfg)
    if out:
        result.to_hdf5(out)
    summary = result.summary() | {"out": out}
    if as_json:
        print(json.dumps(summary))
    else:
        state = "cancelled after" if result.cancelled else "trained for"
        print(f"evidence {cfg.label}: {state} {result.batches_done} batches, held-out accuracy "
              f"{100 * result.heldout_accuracy:.1f} % (readout-only baseline "
              f"{100 * result.reservoir_accuracy:.1f} %), {summary['seconds_per_batch']:.2f} s "
              f"per batch" + (f"; wrote {out}" if out else ""))
        if result.stop_reason:
            print(result.stop_reason, file=sys.stderr)
    if result.cancelled:
        return 130
    return 1 if result.stop_reason else 0

