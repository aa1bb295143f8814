"""Training the E/I network on the evidence-accumulation task: the loop, the job, the baseline.

:func:`train_evidence` runs ``batches`` optimiser steps (optax Adam after clipping by global
norm). Each step draws a fresh batch of trials from the training stream (its inputs generated
inside the time loop), computes the gradient by BPTT (:mod:`core.training.bptt`) or by the online
rule (:mod:`core.training.online`), and refuses a non-finite gradient: that update is skipped and
reported, and ``max_nonfinite`` of them in a row stop the run with a clear reason. Every
``eval_every`` steps the held-out trials (a fixed stream, :mod:`core.tasks.evidence_accumulation`)
are scored and the best weights kept; ``is_cancelled`` is polled between steps, and a cancelled
run returns the best weights so far marked ``cancelled``.

:class:`EvidenceTrainJob` is the picklable job (the seam of :mod:`core.jobs`); its
:class:`~core.training.evidence_results.EvidenceTrainResult` saves to HDF5 atomically.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..events import TrainProgress
from ..jobs import IsCancelled, Report, ignore_events, never_cancelled
from ..tasks.evidence_accumulation import EvidenceTask
from .ei_network import EINetConfig, NeuronParams

METHODS = ("bptt", "online")
HISTORY = ("loss", "accuracy", "rate_hz", "grad_norm", "finite", "seconds", "elapsed")


@dataclass(frozen=True)
class EvidenceTrainProgress(TrainProgress):
    """A training step (``step``, ``loss``, ``accuracy`` on the batch) and, when measured, the
    held-out accuracy; the mean firing rate, the gradient norm, whether it was finite, the
    seconds of that step and the memory in use (:func:`memory_in_use_mb`)."""

    heldout_accuracy: float = float("nan")
    heldout_loss: float = float("nan")
    rate_hz: float = float("nan")
    grad_norm: float = float("nan")
    finite: bool = True
    seconds: float = float("nan")
    memory_mb: float = float("nan")


@dataclass(frozen=True)
class EvidenceTrainConfig:
    """Everything that defines a training run (saved with the result)."""

    method: str = "bptt"
    rule: str = "es-d-rtrl"  # online: es-d-rtrl (O(neurons)) or d-rtrl (exact, O(synapses))
    detach_recurrent: bool = False  # bptt: stop the gradient through recurrent spikes
    checkpoint: int | None = 100  # bptt: steps per jax.checkpoint segment (None: keep all)
    carry_clip: float | None = None  # bptt: clip the state's cotangent per step
    readout_only: bool = False
    batches: int = 200
    batch_size: int = 64
    learning_rate: float = 1e-3
    clip_norm: float = 1.0
    seed: int = 0
    n_heldout: int = 512
    eval_every: int = 25
    max_nonfinite: int = 3
    baseline_trials: int = 1024  # reservoir baseline: training trials of the readout (0: skip)
    network: EINetConfig = field(default_factory=EINetConfig)
    task: EvidenceTask = field(default_factory=EvidenceTask)

    def __post_init__(self):
        if isinstance(self.network, dict):
            object.__setattr__(self, "network", EINetConfig.from_dict(self.network))
        if isinstance(self.task, dict):
            object.__setattr__(self, "task", EvidenceTask.from_dict(self.task))
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, got {self.method!r}")
        from .online import RULES

        if self.rule not in RULES:
            raise ParameterError(f"online rule must be one of {RULES}, got {self.rule!r}")
        for name in ("batches", "n_heldout", "eval_every", "max_nonfinite", "baseline_trials"):
            v = getattr(self, name)
            if int(v) != v or v < (0 if name in ("batches", "baseline_trials") else 1):
                raise ParameterError(f"{name} must be a whole number >= "
                                     f"{0 if name in ('batches', 'baseline_trials') else 1}, "
                                     f"got {v}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ParameterError(f"batch size must be >= 1, got {self.batch_size}")
        if not (self.learning_rate > 0 and self.clip_norm > 0):
            raise ParameterError("learning rate and clip norm must be > 0")
        if self.checkpoint is not None and int(self.checkpoint) < 1:
            raise ParameterError(f"checkpoint must be >= 1 step or None, got {self.checkpoint}")
        if self.carry_clip is not None and not self.carry_clip > 0:
            raise ParameterError(f"carry_clip must be > 0 or None, got {self.carry_clip}")
        if self.network.n_in != self.task.n_in:
            raise ParameterError(f"the network has {self.network.n_in} inputs, the task "
                                 f"{self.task.n_in} (4 groups of {self.task.n_group})")
        if abs(self.network.dt - self.task.dt) > 1e-12:
            raise ParameterError(f"network dt {self.network.dt} ms != task dt {self.task.dt} ms")
        self.task.check_steps()

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["network"] = self.network.to_dict()
        d["task"] = self.task.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EvidenceTrainConfig:
        return cls(**d)

    def replace(self, **kw) -> EvidenceTrainConfig:
        return dataclasses.replace(self, **kw)

    @property
    def label(self) -> str:
        if self.readout_only:
            return "readout only"
        if self.method == "online":
            return f"online ({self.rule})"
        return "bptt (recurrence detached)" if self.detach_recurrent else "bptt"


def make_config(method: str = "bptt", neurons: str | NeuronParams = "default", **kw):
    """A config with ``neurons`` ``"default"``, a GIF fit file path, or :class:`NeuronParams`;
    keywords of :class:`EvidenceTrainConfig`, plus ``network={...}`` / ``task={...}`` overrides."""
    net_kw = dict(kw.pop("network", {}) or {})
    task_kw = dict(kw.pop("task", {}) or {})
    task = EvidenceTask(**task_kw)
    if isinstance(neurons, NeuronParams):
        nrn = neurons
    elif neurons in (None, "", "default"):
        nrn = NeuronParams()
    else:
        nrn = NeuronParams.from_fit(neurons)
    net = EINetConfig(**{"n_in": task.n_in, "dt": task.dt, **net_kw, "neurons": nrn})
    return EvidenceTrainConfig(method=method, network=net, task=task, **kw)


@dataclass
class TrainState:
    """Where a training stopped, to continue it (pause / resume): the last weights and the
    optimiser's state, the history so far, the best held-out weights and the batches done.
    Plain NumPy (picklable); saved with its result (the group ``resume``)."""

    params: dict[str, np.ndarray]
    opt_state: Any  # the optax state, or its leaves (a list) as read from a file
    params_init: dict[str, np.ndarray]
    history: dict[str, list[float]]
    evals: dict[str, list[float]]
    best_accuracy: float
    best_params: dict[str, np.ndarray]
    best_batch: int
    batches_done: int
    elapsed_s: float = 0.0
    compile_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    _SCALARS = ("best_accuracy", "best_batch", "batches_done", "elapsed_s", "compile_s")

    def write_group(self, g) -> None:
        """Into the h5py group ``g``: the weights, the optimiser state's leaves (its structure
        is the optimiser's, rebuilt from the config on reading), the history and the scalars."""
        import jax

        for name in ("params", "params_init", "best_params", "history", "evals"):
            sub = g.create_group(name)
            for k, v in getattr(self, name).items():
                sub.create_dataset(k, data=np.asarray(v))
        opt = g.create_group("opt_state")
        for i, leaf in enumerate(jax.tree_util.tree_leaves(self.opt_state)):
            opt.create_dataset(f"{i:04d}", data=np.asarray(leaf))
        meta = {k: getattr(self, k) for k in self._SCALARS} | {"notes": list(self.notes)}
        g.attrs["meta"] = json.dumps(meta, allow_nan=True)

    @classmethod
    def read_group(cls, g) -> TrainState:
        """The state :meth:`write_group` wrote; its ``opt_state`` is the list of leaves (the
        job that resumes it rebuilds the structure: no JAX runs where the file is read)."""
        arrays = {name: {k: np.asarray(v) for k, v in g[name].items()}
                  for name in ("params", "params_init", "best_params")}
        lists = {name: {k: list(np.asarray(v, np.float64)) for k, v in g[name].items()}
                 for name in ("history", "evals")}
        leaves = [np.asarray(g["opt_state"][k]) for k in sorted(g["opt_state"])]
        return cls(**arrays, **lists, opt_state=leaves, **json.loads(g.attrs["meta"]))


def _opt_state(tr: Trainer, saved):
    """The optimiser state of a :class:`TrainState`: its pytree, or its leaves as read from a
    file (a list; the structure is the optimiser's)."""
    import jax

    if isinstance(saved, list):
        treedef = jax.tree_util.tree_structure(tr.optimizer.init(tr.params0))
        if treedef.num_leaves != len(saved):
            raise ParameterError(f"the saved optimiser state has {len(saved)} arrays, this "
                                 f"training's optimiser {treedef.num_leaves}")
        saved = jax.tree_util.tree_unflatten(treedef, saved)
    return jax.tree_util.tree_map(jax.numpy.asarray, saved)


def make_optimizer(cfg: EvidenceTrainConfig):
    """Adam after clipping by global norm (the optimiser of every evidence training)."""
    import optax

    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optax.adam(cfg.learning_rate))


def memory_in_use_mb() -> float:
    """Memory the training holds now, in MB: the accelerator's bytes in use when JAX runs on
    one that reports them, else this process's resident set (Linux ``/proc``; elsewhere its
    peak, ``getrusage``)."""
    import jax

    try:
        dev = jax.devices()[0]
        if dev.platform != "cpu":
            stats = dev.memory_stats() or {}
            if "bytes_in_use" in stats:
                return stats["bytes_in_use"] / 2**20
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        pass
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


_TRAINERS: dict[str, Trainer] = {}


def trainer_for(cfg: EvidenceTrainConfig) -> Trainer:
    """A compiled :class:`Trainer` for ``cfg``, reused by the next job of the same settings in
    this process (a resumed training compiles nothing again); the last two are kept."""
    import json

    key = json.dumps(cfg.replace(batches=0, eval_every=1, max_nonfinite=1,
                                 baseline_trials=0).to_dict(), sort_keys=True, default=str)
    tr = _TRAINERS.pop(key, None) or Trainer(cfg)
    _TRAINERS[key] = tr
    while len(_TRAINERS) > 2:
        _TRAINERS.pop(next(iter(_TRAINERS)))
    if tr.cfg != cfg:  # the same compiled pieces; the loop reads the run's own settings
        tr = _with_config(tr, cfg)
    return tr


def _with_config(tr: Trainer, cfg: EvidenceTrainConfig) -> Trainer:
    import copy

    out = copy.copy(tr)
    out.cfg = cfg
    return out


# ---- compiled pieces -------------------------------------------------------------------------
class Trainer:
    """The compiled step, evaluation and gradient functions of one configuration."""

    def __init__(self, cfg: EvidenceTrainConfig):
        import jax
        import optax

        from ..tasks.evidence_accumulation import step_input, trial_batch
        from .bptt import bptt_grad, global_norm
        from .ei_network import init_network, run_trials
        from .online import online_grad

        self.cfg = cfg
        net, task = cfg.network, cfg.task
        self.structure, self.params0 = init_network(net, cfg.seed)
        self.optimizer = make_optimizer(cfg)
        mask = task.recall_mask()
        T, B = task.T, int(cfg.batch_size)
        structure = self.structure
        self.train_seed = int(cfg.seed) * 1_000_003 + 17

        def batch_of(seed, index, batch):
            keys, sides, labels = trial_batch(seed, index, task, batch)
            return (lambda t: step_input(task, keys, sides, t)), labels

        def grad_fn(params, index, method, **opts):
            input_fn, labels = batch_of(self.train_seed, index, B)
            if method == "online":
                return online_grad(net, structure, params, input_fn, T, B, labels, mask, **opts)
            return bptt_grad(net, structure, params, input_fn, T, B, labels, mask, **opts)

        self._grad_fn = grad_fn
        if cfg.method == "online":
            opts = {"rule": cfg.rule, "readout_only": cfg.readout_only}
        else:
            opts = {"detach_recurrent": cfg.detach_recurrent, "checkpoint": cfg.checkpoint,
                    "carry_clip": cfg.carry_clip, "readout_only": cfg.readout_only}
        self.opts = opts

        def train_step(params, opt_state, index):
            loss, correct, rate, grads = grad_fn(params, index, cfg.method, **opts)
            gnorm = global_norm(grads)
            finite = jax.numpy.isfinite(gnorm)
            safe = jax.tree_util.tree_map(lambda g: jax.numpy.where(finite, g, 0.0), grads)
            updates, new_state = self.optimizer.update(safe, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            keep = lambda new, old: jax.numpy.where(finite, new, old)
            params = jax.tree_util.tree_map(keep, new_params, params)
            opt_state = jax.tree_util.tree_map(keep, new_state, opt_state)
            return params, opt_state, loss, jax.numpy.mean(correct), rate, gnorm, finite, grads

        self.train_step = jax.jit(train_step)
        self.E = min(B, int(cfg.n_heldout))

        def evaluate(params, index):
            from ..tasks.evidence_accumulation import materialise

            keys, sides, labels = trial_batch(task.heldout_seed, index, task, self.E)
            x = materialise(task, keys, sides, jax.numpy.dtype(net.dtype))
            ys = run_trials(net, structure, params, x)
            from .ei_network import recall_loss

            loss, correct = recall_loss(ys, labels, jax.numpy.asarray(mask))
            return loss, jax.numpy.sum(correct)

        self._evaluate = jax.jit(evaluate)

    def heldout(self, params) -> tuple[float, float]:
        """(accuracy, loss) on the first ``n_heldout`` trials of the held-out stream (rounded
        up to whole evaluation batches)."""
        n_batches = -(-int(self.cfg.n_heldout) // self.E)
        tot_ok = tot_loss = 0.0
        for i in range(n_batches):
            loss, ok = self._evaluate(params, i)
            tot_ok += float(ok)
            tot_loss += float(loss)
        return tot_ok / (n_batches * self.E), tot_loss / n_batches

    def gradient(self, params, index: int, method: str, **opts):
        import jax

        return jax.jit(lambda p, i: self._grad_fn(p, i, method, **opts))(params, index)


def reservoir_baseline(trainer: Trainer, params, n_train: int, seed: int = 0) -> float:
    """Held-out accuracy of the untrained network with a trained readout only: logistic
    regression (L2, L-BFGS) on each trial's mean filtered spikes ``zeta`` over the recall window
    -- the readout's decision is linear in exactly that."""
    import jax
    import jax.numpy as jnp
    from scipy.optimize import minimize

    from ..tasks.evidence_accumulation import materialise, trial_batch
    from .ei_network import constants, effective, init_state, step, synaptic_operator

    cfg = trainer.cfg
    net, task = cfg.network, cfg.task
    mask = jnp.asarray(task.recall_mask())
    c = constants(net)
    E = trainer.E

    @jax.jit
    def features(p, seed_index):
        seed, index = seed_index
        keys, sides, labels = trial_batch(seed, index, task, E)
        x = materialise(task, keys, sides, jnp.dtype(net.dtype))
        eff = effective(p)
        syn = synaptic_operator(c, trainer.structure, eff)

        def body(s, xt):
            s, _ = step(c, syn, eff, s, xt)
            return s, s["zeta"]

        _, zetas = jax.lax.scan(body, init_state(c, E, jnp.dtype(net.dtype)), x)
        return jnp.sum(zetas * mask[:, None, None], 0) / jnp.sum(mask), labels

    def collect(stream, n):
        F, Y = [], []
        for i in range(-(-n // E)):
            f, y = features(params, (stream, i))
            F.append(np.asarray(f, np.float64))
            Y.append(np.asarray(y))
        return np.concatenate(F)[:n], np.concatenate(Y)[:n]

    Xtr, ytr = collect(seed + 99_991, n_train)
    Xte, yte = collect(task.heldout_seed, int(cfg.n_heldout))
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    A, At = (Xtr - mu) / sd, (Xte - mu) / sd
    s = 2.0 * ytr - 1.0
    lam = 1e-2

    def f(w):
        m = s * (A @ w[:-1] + w[-1])
        loss = np.mean(np.logaddexp(0.0, -m)) + 0.5 * lam * w[:-1] @ w[:-1]
        g = -s / (1.0 + np.exp(m))
        return loss, np.concatenate([A.T @ g / len(s) + lam * w[:-1], [np.mean(g)]])

    w = minimize(f, np.zeros(A.shape[1] + 1), jac=True, method="L-BFGS-B").x
    pred = (At @ w[:-1] + w[-1]) > 0
    return float(np.mean(pred == (yte == 1)))


def train_evidence(cfg: EvidenceTrainConfig, *, report: Report = ignore_events,
                   is_cancelled: IsCancelled = never_cancelled, job_name: str = "train-evidence",
                   trainer: Trainer | None = None, initial_state: TrainState | None = None):
    """Run the training; returns an :class:`EvidenceTrainResult` (best held-out weights).

    ``initial_state`` (a result's :attr:`~EvidenceTrainResult.state`) continues a paused
    training: from its weights and optimiser state, its history and best weights extended, the
    training stream continued at its next batch and the wall time counted on, up to
    ``cfg.batches`` batches in all. ``cfg`` must be the settings it was trained with (the
    batches, evaluation interval and baseline may differ)."""
    import jax

    from .evidence_results import EvidenceTrainResult, figure_data, versions

    tr = trainer or trainer_for(cfg)
    total = int(cfg.batches)
    st = initial_state
    if st is None:
        params = tr.params0
        init_np = {k: np.asarray(v) for k, v in params.items()}
        opt_state = tr.optimizer.init(params)
        history: dict[str, list[float]] = {k: [] for k in HISTORY}
        evals: dict[str, list[float]] = {"batch": [], "accuracy": [], "loss": [], "elapsed": []}
        notes: list[str] = []
        best = (-1.0, params, 0)
        first, compile_s, t_start = 0, 0.0, time.perf_counter()
    else:
        if set(st.params) != set(tr.params0) or any(
                np.shape(st.params[k]) != np.shape(tr.params0[k]) for k in st.params):
            raise ParameterError("the paused training's weights do not fit these settings "
                                 "(resume it with the settings it was started with)")
        params = {k: jax.numpy.asarray(v) for k, v in st.params.items()}
        init_np = {k: np.asarray(v) for k, v in st.params_init.items()}
        opt_state = _opt_state(tr, st.opt_state)
        history = {k: list(st.history.get(k, [])) for k in HISTORY}
        evals = {k: list(v) for k, v in st.evals.items()}
        notes = list(st.notes)
        best = (float(st.best_accuracy), st.best_params, int(st.best_batch))
        first, compile_s = int(st.batches_done), float(st.compile_s)
        t_start = time.perf_counter() - float(st.elapsed_s)
    cancelled, stop_reason = False, ""
    run_nonfinite = 0

    def evaluate(done):
        nonlocal best
        acc, loss = tr.heldout(params)
        evals["batch"].append(done)
        evals["accuracy"].append(acc)
        evals["loss"].append(loss)
        evals["elapsed"].append(time.perf_counter() - t_start)
        if acc > best[0]:
            best = (acc, params, done)
        return acc, loss

    if st is None:
        acc0, loss0 = evaluate(0)
        report(EvidenceTrainProgress(job=job_name, done=0, total=total, step=0,
                                     heldout_accuracy=acc0, heldout_loss=loss0,
                                     memory_mb=memory_in_use_mb(),
                                     message=f"untrained: held-out accuracy {100 * acc0:.1f} %"))
    else:
        report(EvidenceTrainProgress(job=job_name, done=first, total=total,
                                     elapsed=time.perf_counter() - t_start,
                                     message=f"resumed at batch {first}/{total}"))
    done = first
    for i in range(first, total):
        if is_cancelled():
            cancelled = True
            break
        t0 = time.perf_counter()
        out = tr.train_step(params, opt_state, i)
        params, opt_state, loss, acc, rate, gnorm, finite = out[:7]
        loss, acc, rate, gnorm, finite = (float(loss), float(acc), float(rate), float(gnorm),
                                          bool(finite))
        dt = time.perf_counter() - t0
        if i == first and st is None:
            compile_s = dt
        done = i + 1
        for k, v in zip(HISTORY, (loss, acc, rate, gnorm, float(finite), dt,
                                  time.perf_counter() - t_start)):
            history[k].append(v)
        message = f"batch {done}/{total}"
        if not finite:
            from .bptt import gradient_report

            _, why = gradient_report(jax.device_get(out[7]))
            run_nonfinite += 1
            message = f"batch {done}: update skipped: {why}"
            if f"batch {done}:" not in " ".join(notes[-1:]):
                notes.append(message)
        else:
            run_nonfinite = 0
        held = held_loss = float("nan")
        if finite and (done % int(cfg.eval_every) == 0 or done == total):
            held, held_loss = evaluate(done)
            message += f": held-out accuracy {100 * held:.1f} %"
        report(EvidenceTrainProgress(
            job=job_name, done=done, total=total, elapsed=time.perf_counter() - t_start,
            message=message, step=done, loss=loss, accuracy=acc, heldout_accuracy=held,
            heldout_loss=held_loss, rate_hz=rate, grad_norm=gnorm, finite=finite, seconds=dt,
            memory_mb=memory_in_use_mb()))
        if run_nonfinite >= int(cfg.max_nonfinite):
            stop_reason = (f"stopped: {run_nonfinite} non-finite gradients in a row "
                           f"(batches {done - run_nonfinite + 1}-{done}); the best weights so far "
                           f"are kept. {message.split(': ', 2)[-1]}")
            notes.append(stop_reason)
            break
    if (done > first and (not evals["batch"] or evals["batch"][-1] != done)
            and run_nonfinite == 0):
        evaluate(done)
    best_acc, best_params, best_batch = best
    trained_s = time.perf_counter() - t_start  # a resumed run's clock goes on from here
    baseline = float("nan")
    if cfg.baseline_trials and not cancelled:
        report(EvidenceTrainProgress(job=job_name, done=done, total=total,
                                     message="reservoir baseline (readout only)"))
        baseline = reservoir_baseline(tr, tr.params0, int(cfg.baseline_trials), cfg.seed)
    if cancelled:
        report(EvidenceTrainProgress(job=job_name, done=done, total=total,
                                     elapsed=time.perf_counter() - t_start,
                                     message=f"stopped at batch {done}: keeping the best weights "
                                             f"(batch {best_batch})"))
    fig = figure_data(tr, init_np, best_params)
    best_np = {k: np.asarray(v) for k, v in best_params.items()}
    last_np = {k: np.asarray(v) for k, v in params.items()}
    elapsed = time.perf_counter() - t_start
    state = TrainState(params=last_np, opt_state=jax.device_get(opt_state), params_init=init_np,
                       history={k: list(v) for k, v in history.items()},
                       evals={k: list(v) for k, v in evals.items()},
                       best_accuracy=float(best_acc), best_params=best_np,
                       best_batch=int(best_batch), batches_done=done, elapsed_s=trained_s,
                       compile_s=compile_s, notes=list(notes))
    result = EvidenceTrainResult(
        config=cfg.to_dict(), params=best_np, params_init=init_np, params_last=last_np,
        structure={name: {"indptr": np.asarray(getattr(tr.structure, name).indptr),
                          "indices": np.asarray(getattr(tr.structure, name).indices),
                          "shape": np.asarray(getattr(tr.structure, name).shape)}
                   for name in ("csr_e", "csr_i", "csr_in")},
        history={k: np.asarray(v, np.float64) for k, v in history.items()},
        evals={k: np.asarray(v, np.float64) for k, v in evals.items()},
        heldout_accuracy=float(best_acc), best_batch=int(best_batch),
        reservoir_accuracy=baseline, batches_done=done, cancelled=cancelled,
        stop_reason=stop_reason, elapsed_s=elapsed, compile_s=compile_s,
        figure=fig, notes=notes, versions=versions(), state=state)
    return result


@dataclass
class EvidenceTrainJob:
    """Train the E/I network on the evidence task (picklable; :mod:`core.jobs` seam).
    ``out_path``: save the result there (atomically), also when cancelled. ``initial_state``:
    continue that paused training (:class:`TrainState`) instead of starting afresh."""

    config: EvidenceTrainConfig = field(default_factory=EvidenceTrainConfig)
    out_path: str | None = None
    name: str = "train-evidence"
    initial_state: TrainState | None = None  # continue a paused training (its result's state)
    cancel_grace: float = 300.0  # seconds a cancel may wait: the batch running, the figure

    def run(self, report: Report = ignore_events, is_cancelled: IsCancelled = never_cancelled):
        result = train_evidence(self.config, report=report, is_cancelled=is_cancelled,
                                job_name=self.name, initial_state=self.initial_state)
        if self.out_path is not None:
            result.to_hdf5(self.out_path)
        return result


def gradient_agreement(cfg: EvidenceTrainConfig, params=None, index: int = 0,
                       trainer: Trainer | None = None) -> dict[str, Any]:
    """Cosine similarity of the configured method's gradient to full BPTT and to BPTT with the
    recurrence detached, on training batch ``index`` (with ``params``, default the initial
    weights). Non-finite BPTT gradients give NaN and a note."""
    from .online import cosine

    tr = trainer or Trainer(cfg)
    params = tr.params0 if params is None else params
    g_m = tr.gradient(params, index, cfg.method, **tr.opts)[3]
    ck = {"checkpoint": cfg.checkpoint}
    g_full = tr.gradient(params, index, "bptt", **ck)[3]
    g_det = tr.gradient(params, index, "bptt", detach_recurrent=True, **ck)[3]
    out = {}
    for name, ref in (("full_bptt", g_full), ("detached_bptt", g_det)):
        finite = all(np.all(np.isfinite(np.asarray(v))) for v in ref.values())
        rec = ["w_e", "w_i", "w_in"]
        out[f"cosine_to_{name}"] = cosine(g_m, ref) if finite else float("nan")
        out[f"cosine_to_{name}_synaptic"] = cosine(g_m, ref, rec) if finite else float("nan")
    return out
