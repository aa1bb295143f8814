"""Looking at a trained evidence network: one held-out trial, and held-out trials run in bulk.

:func:`trial_data` simulates held-out trial ``trial`` (the stream ``task.heldout_seed``, the same
trials the training scored) and returns Fig. 3's trial panels as data: the input raster, the E/I
raster, the membranes (mV) of 5 E and 5 I neurons, the readout, the label and the decision (the
arg-max of the readout averaged over the recall window). :class:`TrialViewJob` runs it in the
worker for the Training panel's trial viewer.

:func:`evaluate_network` runs ``n_trials`` held-out trials in batches and returns the accuracy,
the recall-window loss and the mean E/I rates (spike counts accumulated inside the time loop, so
no ``(T, batch, n)`` array is kept); :class:`EvidenceSimulateJob` is the job of
``brainfit simulate net.h5``.

The compiled functions are kept per network and task settings (the last few), so a second trial
of the same network compiles nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..events import Event
from ..jobs import IsCancelled, Report, ignore_events, never_cancelled

_COMPILED: dict[tuple, Any] = {}


def structure_from_arrays(net, arrays: dict):
    """The :class:`~core.training.ei_network.Structure` of saved CSR arrays
    (``{"csr_e": {"indptr", "indices", "shape"}, ...}``)."""
    from ..ops.csr import CSR
    from .ei_network import Structure

    dtype = np.dtype(net.dtype)
    csr = {name: CSR.from_arrays(d["indptr"], d["indices"], np.zeros((), dtype),
                                 tuple(int(s) for s in d["shape"]), dtype=dtype)
           for name, d in arrays.items()}
    return Structure(**csr)


def _compiled(kind: str, net, task, build):
    key = (kind, json.dumps({"net": net.to_dict(), "task": task.to_dict()}, sort_keys=True,
                            default=str))
    fn = _COMPILED.pop(key, None) or build()
    _COMPILED[key] = fn
    while len(_COMPILED) > 4:
        _COMPILED.pop(next(iter(_COMPILED)))
    return fn


def _decision(ys, mask) -> np.ndarray:
    m = np.asarray(mask, np.float64)
    mean_y = np.tensordot(m, np.asarray(ys, np.float64), axes=(0, 0)) / m.sum()
    return np.argmax(mean_y, axis=-1)


def trial_data(net, task, structure, params: dict, trial: int = 0) -> dict[str, Any]:
    """Held-out trial ``trial`` simulated with ``params``: ``input_raster`` (T, n_in) bool,
    ``raster`` (T, n) bool, ``membrane_mV`` (T, 10) of ``membrane_neurons`` (5 E, 5 I),
    ``readout`` (T, n_out), ``label``, ``prediction``, ``correct``, ``cue_sides``, ``trial``,
    ``dt_ms``, ``recall_start`` (step), ``n_exc``."""
    import jax
    import jax.numpy as jnp

    from ..tasks.evidence_accumulation import materialise, trial_batch
    from .ei_network import run_trials

    trial = int(trial)
    if trial < 0:
        raise ParameterError(f"trial must be a held-out trial index >= 0, got {trial}")
    run = _compiled("trial", net, task, lambda: jax.jit(
        lambda st, p, x: run_trials(net, st, p, x, record=True)))
    keys, sides, labels = trial_batch(task.heldout_seed, trial, task, 1)
    x = materialise(task, keys, sides, jnp.dtype(net.dtype))
    p = {k: jnp.asarray(v) for k, v in params.items()}
    ys, z, v = run(structure, p, x)
    ne = int(net.n_exc)
    pick = np.r_[np.arange(min(5, ne)), ne + np.arange(min(5, net.n_inh))]
    nrn = net.neurons
    readout = np.asarray(ys[:, 0], np.float64)
    label = int(labels[0])
    prediction = int(_decision(readout[:, None], task.recall_mask())[0])
    return {"input_raster": np.asarray(x[:, 0] > 0.5), "raster": np.asarray(z[:, 0]),
            "membrane_mV": np.asarray(v[:, 0, pick], np.float64) * nrn.V_scale + nrn.V_rest,
            "membrane_neurons": pick.astype(np.int64), "readout": readout, "label": label,
            "prediction": prediction, "correct": bool(prediction == label),
            "cue_sides": np.asarray(sides[0], np.int64), "trial": trial,
            "dt_ms": float(task.dt), "recall_start": int(task.recall_start), "n_exc": ne}


@dataclass
class TrialViewJob:
    """One held-out trial of a trained network, for the trial viewer (picklable job):
    ``config`` is the training's config dict, ``structure`` its CSR arrays, ``params`` the
    weights to run. Returns :func:`trial_data`'s dict."""

    config: dict
    structure: dict
    params: dict
    trial: int = 0
    name: str = "training-trial"

    @classmethod
    def from_result(cls, result, trial: int = 0, weights: str = "best",
                    name: str = "training-trial") -> TrialViewJob:
        """``weights``: ``"best"`` (the kept ones), ``"last"`` or ``"initial"``."""
        params = {"best": result.params, "last": result.params_last,
                  "initial": result.params_init}.get(weights)
        if params is None:
            raise ParameterError(f"weights must be best, last or initial, got {weights!r}")
        return cls(result.config, result.structure, params, int(trial), name)

    def run(self, report: Report = ignore_events, is_cancelled: IsCancelled = never_cancelled):
        from .evidence import EvidenceTrainConfig

        cfg = EvidenceTrainConfig.from_dict(self.config)
        structure = structure_from_arrays(cfg.network, self.structure)
        return trial_data(cfg.network, cfg.task, structure, self.params, self.trial)


def evaluate_network(net, task, structure, params: dict, n_trials: int, batch_size: int = 64,
                     *, report: Report = ignore_events,
                     is_cancelled: IsCancelled = never_cancelled,
                     job_name: str = "simulate-evidence") -> dict[str, Any]:
    """Run the first ``n_trials`` held-out trials in batches of ``batch_size``: ``accuracy``,
    ``loss`` (recall-window cross-entropy), ``rate_hz`` (mean over the trial, E and I),
    ``trials`` (run; fewer when cancelled), ``correct``, ``seconds``."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    from ..tasks.evidence_accumulation import materialise, trial_batch
    from .ei_network import constants, effective, init_state, recall_loss, step, synaptic_operator

    n_trials, B = int(n_trials), int(min(batch_size, n_trials))
    if n_trials < 1 or B < 1:
        raise ParameterError(f"trials must be >= 1, got {n_trials}")
    mask = jnp.asarray(task.recall_mask())
    dtype = jnp.dtype(net.dtype)

    def build():
        c = constants(net)

        def run(st, p, index):
            keys, sides, labels = trial_batch(task.heldout_seed, index, task, B)
            x = materialise(task, keys, sides, dtype)
            eff = effective(p)
            syn = synaptic_operator(c, st, eff)

            def body(carry, x_t):
                s, count = carry
                s, (z, _v, y) = step(c, syn, eff, s, x_t)
                return (s, count + z), y

            zero = jnp.zeros((B, c.n), dtype)
            (_, counts), ys = lax.scan(body, (init_state(c, B, dtype), zero), x)
            loss, correct = recall_loss(ys, labels, mask)
            return loss, correct, jnp.sum(counts, axis=0)

        return jax.jit(run)

    run = _compiled(f"eval{B}", net, task, build)
    p = {k: jnp.asarray(v) for k, v in params.items()}
    t0 = time.perf_counter()
    n_batches = -(-n_trials // B)
    correct, loss_sum, trials = 0, 0.0, 0
    counts = np.zeros(net.n, np.float64)
    for i in range(n_batches):
        if is_cancelled():
            break
        loss, ok, cnt = run(structure, p, i)
        take = min(B, n_trials - trials)
        ok = np.asarray(ok)[:take]
        correct += int(ok.sum())
        loss_sum += float(loss) * take
        counts += np.asarray(cnt, np.float64) * (take / B)
        trials += take
        report(Event(job=job_name, done=trials, total=n_trials,
                     elapsed=time.perf_counter() - t0,
                     message=f"{trials}/{n_trials} trials: accuracy {100 * correct / trials:.1f} %"))
    if trials == 0:
        return {"trials": 0, "accuracy": float("nan"), "loss": float("nan"),
                "rate_hz": {"E": float("nan"), "I": float("nan")}, "correct": 0,
                "seconds": time.perf_counter() - t0}
    seconds_model = trials * task.T * task.dt / 1000.0
    ne = int(net.n_exc)
    return {"trials": trials, "accuracy": correct / trials, "loss": loss_sum / trials,
            "correct": correct,
            "rate_hz": {"E": float(counts[:ne].sum() / (ne * seconds_model)),
                        "I": float(counts[ne:].sum() / (int(net.n_inh) * seconds_model))},
            "seconds": time.perf_counter() - t0}


@dataclass
class EvidenceSimulateJob:
    """Run a trained evidence network on held-out trials (``brainfit simulate net.h5``)."""

    config: dict
    structure: dict
    params: dict
    n_trials: int | None = None  # None: the training's held-out count
    batch_size: int = 64
    name: str = "simulate-evidence"

    @classmethod
    def from_result(cls, result, n_trials: int | None = None, batch_size: int = 64):
        return cls(result.config, result.structure, result.params, n_trials, batch_size)

    def run(self, report: Report = ignore_events, is_cancelled: IsCancelled = never_cancelled):
        from .evidence import EvidenceTrainConfig

        cfg = EvidenceTrainConfig.from_dict(self.config)
        n = cfg.n_heldout if self.n_trials is None else self.n_trials
        structure = structure_from_arrays(cfg.network, self.structure)
        out = evaluate_network(cfg.network, cfg.task, structure, self.params, n,
                               self.batch_size, report=report, is_cancelled=is_cancelled,
                               job_name=self.name)
        return out | {"T": int(cfg.task.T), "dt_ms": float(cfg.task.dt),
                      "neurons": int(cfg.network.n), "heldout_seed": int(cfg.task.heldout_seed)}
