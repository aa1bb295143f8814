"""BPTT training of feed-forward spiking stacks (optax Adam, gradient clipping), the digits job,
and its HDF5 result.

:func:`train_feedforward` is the loop: per epoch a fresh encoding of the training set, shuffled
into padded batches (weight 0 on padding: one compiled shape), one sharded BPTT step per batch
(:mod:`core.training.feedforward_parallel`), then the test set. ``is_cancelled`` is polled
between steps; a cancelled run returns what it has (parameters and history so far) marked
``cancelled``. Progress goes out as :class:`~core.events.TrainProgress` events.

:class:`DigitsTrainJob` is the picklable job the CLI and the GUI run; its
:class:`FeedForwardTrainResult` saves to HDF5 atomically (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..events import TrainProgress
from ..jobs import IsCancelled, Report, ignore_events, never_cancelled
from .feedforward import MODES, FeedForwardSNN
from .feedforward_data import ENCODINGS, encode, load_digits_split

LAYOUT = "brainfit-feedforward-train-1"


@dataclass(frozen=True)
class DigitsTrainConfig:
    """Everything that defines a digits training run (saved with the result)."""

    arch: str = "64-256-256-10"
    mode: str = "layer_first"
    T: int = 25
    encoding: str = "rate"
    max_rate: float = 0.8
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 2e-3
    clip_norm: float = 1.0
    seed: int = 0
    devices: int | None = 1
    readout: str = "leaky"
    surrogate: str = "sigmoid"
    reset: str = "subtract"
    tau_m: float = 10.0
    tau_out: float = 20.0
    refractory: int = 0
    weight_gain: float = 3.0
    dtype: str = "float32"
    test_fraction: float = 0.2
    max_train: int | None = None
    time_chunk: int | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ParameterError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.encoding not in ENCODINGS:
            raise ParameterError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if int(self.T) < 1:
            raise ParameterError(f"T must be >= 1 time step, got {self.T}")
        if int(self.epochs) < 0:
            raise ParameterError(f"epochs must be >= 0, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise ParameterError(f"batch size must be >= 1, got {self.batch_size}")
        if not (self.learning_rate > 0 and self.clip_norm > 0):
            raise ParameterError("learning rate and clip norm must be positive")

    def network(self) -> FeedForwardSNN:
        net = FeedForwardSNN.from_arch(
            self.arch, readout=self.readout, surrogate=self.surrogate, reset=self.reset,
            tau_m=self.tau_m, tau_out=self.tau_out, refractory=self.refractory,
            weight_gain=self.weight_gain, dtype=self.dtype)
        if net.n_in != 64 or net.n_out != 10:
            raise ParameterError(f"digits needs 64 inputs and 10 outputs; arch {self.arch!r} has "
                                 f"{net.n_in} and {net.n_out}")
        return net


@dataclass
class FeedForwardTrainResult:
    """A finished (or cancelled) training: parameters, per-epoch history, settings, versions."""

    config: dict[str, Any]
    params: list[dict[str, np.ndarray]]
    history: dict[str, list[float]] = field(default_factory=dict)
    step_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cancelled: bool = False
    elapsed_s: float = 0.0
    compile_s: float = 0.0
    devices: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def test_accuracy(self) -> float:
        acc = self.history.get("test_accuracy", [])
        return float(acc[-1]) if acc else float("nan")

    def network(self) -> FeedForwardSNN:
        return DigitsTrainConfig(**self.config).network()

    def summary(self) -> dict[str, Any]:
        h = self.history
        return {"arch": self.config.get("arch"), "mode": self.config.get("mode"),
                "epochs_done": len(h.get("test_accuracy", [])),
                "test_accuracy": self.test_accuracy,
                "train_accuracy": float(h["train_accuracy"][-1]) if h.get("train_accuracy")
                else float("nan"),
                "test_loss": float(h["test_loss"][-1]) if h.get("test_loss") else float("nan"),
                "cancelled": self.cancelled, "seconds": round(self.elapsed_s, 3),
                "compile_seconds": round(self.compile_s, 3), "devices": len(self.devices),
                "seed": self.config.get("seed")}

    # ---- HDF5 --------------------------------------------------------------------------------
    def to_hdf5(self, path) -> None:
        """Write the whole result to ``path`` atomically (:func:`core.io.atomic.atomic_path`:
        a temporary file beside it, then ``os.replace``): never a half-written file."""
        import h5py

        from ..io.atomic import atomic_path

        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            g = f.create_group("feedforward")
            g.attrs["layout"] = LAYOUT
            g.attrs["config"] = json.dumps(self.config)
            g.attrs["versions"] = json.dumps(self.versions)
            g.attrs["devices"] = json.dumps(self.devices)
            g.attrs["notes"] = json.dumps(self.notes)
            g.attrs["cancelled"] = bool(self.cancelled)
            g.attrs["elapsed_s"] = float(self.elapsed_s)
            g.attrs["compile_s"] = float(self.compile_s)
            pg = g.create_group("params")
            for i, layer in enumerate(self.params):
                lg = pg.create_group(f"layer_{i:02d}")
                for name, arr in layer.items():
                    lg.create_dataset(name, data=np.asarray(arr))
            hg = g.create_group("history")
            for name, values in self.history.items():
                hg.create_dataset(name, data=np.asarray(values, dtype=np.float64))
            g.create_dataset("step_loss", data=np.asarray(self.step_loss, np.float64))

    @classmethod
    def from_hdf5(cls, path) -> FeedForwardTrainResult:
        import h5py

        with h5py.File(path, "r") as f:
            if "feedforward" not in f or f["feedforward"].attrs.get("layout") != LAYOUT:
                raise ParameterError(f"{path} holds no feed-forward training result")
            g = f["feedforward"]
            params = [{k: np.asarray(v) for k, v in g["params"][name].items()}
                      for name in sorted(g["params"])]
            history = {k: [float(x) for x in np.asarray(v)] for k, v in g["history"].items()}
            return cls(config=json.loads(g.attrs["config"]), params=params, history=history,
                       step_loss=np.asarray(g["step_loss"]), cancelled=bool(g.attrs["cancelled"]),
                       elapsed_s=float(g.attrs["elapsed_s"]),
                       compile_s=float(g.attrs["compile_s"]),
                       devices=json.loads(g.attrs["devices"]),
                       versions=json.loads(g.attrs["versions"]),
                       notes=json.loads(g.attrs["notes"]))


def _versions() -> dict[str, str]:
    from .. import library_versions

    return library_versions("jax", "optax", "numpy")


def _batches(n: int, batch: int, rng: np.random.Generator | None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch):
        yield order[start:start + batch]


def _pad_batch(X, y, idx, batch):
    """(x (T, batch, n_in), y (batch,), w (batch,)) with padding weight 0."""
    k = len(idx)
    xb = np.zeros((X.shape[0], batch, X.shape[2]), X.dtype)
    xb[:, :k] = X[:, idx]
    yb = np.zeros(batch, np.int32)
    yb[:k] = y[idx]
    wb = np.zeros(batch, np.float32)
    wb[:k] = 1.0
    return xb, yb, wb


def train_feedforward(
    net: FeedForwardSNN,
    params: list[dict],
    train_epoch: Callable[[int], tuple[np.ndarray, np.ndarray]],
    test_data: tuple[np.ndarray, np.ndarray],
    *,
    mode: str = "layer_first",
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    clip_norm: float = 1.0,
    devices: int | None = 1,
    time_chunk: int | None = None,
    seed: int = 0,
    report: Report = ignore_events,
    is_cancelled: IsCancelled = never_cancelled,
    job_name: str = "train",
) -> tuple[list[dict], dict[str, list[float]], np.ndarray, bool, float, list[str]]:
    """BPTT with ``optax.chain(clip_by_global_norm(clip_norm), adam(schedule))``, the learning
    rate decaying from ``learning_rate`` to 5 % of it along a cosine over all steps.

    ``train_epoch(epoch) -> (X (T, n, n_in), y (n,))`` gives each epoch's encoded training set;
    ``test_data`` is ``(X_test, y_test)``. Returns ``(params, history, step_loss, cancelled,
    compile_s, devices)`` with NumPy parameters.
    """
    import jax
    import optax

    from .feedforward_parallel import (
        batch_sharding,
        check_batch,
        eval_fn,
        make_mesh,
        train_step_fn,
    )

    mesh = make_mesh(devices)
    check_batch(batch_size, mesh)
    net.plan(mode)
    X_test, y_test = test_data
    net.check_input(X_test[:, :1])
    X0, y0 = train_epoch(0)
    steps_per_epoch = -(-len(y0) // batch_size)
    total_steps = steps_per_epoch * int(epochs)
    schedule = optax.cosine_decay_schedule(learning_rate, max(total_steps, 1), alpha=0.05)
    optimizer = optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(schedule))
    step = train_step_fn(net, mode, mesh, optimizer, time_chunk)
    evaluate = eval_fn(net, mode, mesh, time_chunk)
    xs, rs = batch_sharding(mesh), batch_sharding(mesh, time_major=False)
    rep = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    params = jax.device_put(params, rep)
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(seed + 1)
    history: dict[str, list[float]] = {k: [] for k in (
        "train_loss", "train_accuracy", "test_loss", "test_accuracy", "epoch_seconds")}
    step_loss: list[float] = []
    cancelled = False
    compile_s = 0.0
    start = time.perf_counter()
    n_test = len(y_test)

    def put(xb, yb, wb):
        return (jax.device_put(xb, xs), jax.device_put(yb, rs), jax.device_put(wb, rs))

    def test_pass():
        tot_ce = tot_ok = 0.0
        for idx in _batches(n_test, batch_size, None):
            ce, ok = evaluate(params, *put(*_pad_batch(X_test, y_test, idx, batch_size)))
            tot_ce, tot_ok = tot_ce + float(ce), tot_ok + float(ok)
        return tot_ce / n_test, tot_ok / n_test

    done = 0
    for epoch in range(int(epochs)):
        if is_cancelled():
            cancelled = True
            break
        t_epoch = time.perf_counter()
        X, y = (X0, y0) if epoch == 0 else train_epoch(epoch)
        n_train = len(y)
        sum_loss = sum_acc = 0.0
        n_steps = 0
        for idx in _batches(n_train, batch_size, rng):
            if is_cancelled():
                cancelled = True
                break
            t0 = time.perf_counter()
            params, opt_state, loss, acc = step(params, opt_state,
                                                *put(*_pad_batch(X, y, idx, batch_size)))
            loss, acc = float(loss), float(acc)
            if done == 0:
                compile_s = time.perf_counter() - t0
            if not np.isfinite(loss):
                raise ParameterError(f"training diverged: loss is {loss} at step {done}; lower "
                                     f"the learning rate or the weight gain")
            step_loss.append(loss)
            sum_loss += loss * len(idx)
            sum_acc += acc * len(idx)
            n_steps += len(idx)
            done += 1
            report(TrainProgress(job=job_name, done=done, total=total_steps,
                                 elapsed=time.perf_counter() - start, step=done, loss=loss,
                                 accuracy=acc, message=f"epoch {epoch + 1}/{epochs}"))
        if cancelled:
            break
        test_loss, test_acc = test_pass()
        history["train_loss"].append(sum_loss / max(n_steps, 1))
        history["train_accuracy"].append(sum_acc / max(n_steps, 1))
        history["test_loss"].append(test_loss)
        history["test_accuracy"].append(test_acc)
        history["epoch_seconds"].append(time.perf_counter() - t_epoch)
        report(TrainProgress(job=job_name, done=done, total=total_steps,
                             elapsed=time.perf_counter() - start, step=done, loss=test_loss,
                             accuracy=test_acc,
                             message=f"epoch {epoch + 1}/{epochs}: test accuracy "
                                     f"{100 * test_acc:.2f} %"))
    params_np = [{k: np.asarray(v) for k, v in layer.items()} for layer in params]
    devs = [str(d) for d in mesh.devices.ravel()]
    return params_np, history, np.asarray(step_loss), cancelled, compile_s, devs


@dataclass
class DigitsTrainJob:
    """Train a :class:`FeedForwardSNN` on scikit-learn's digits (picklable; the seam of
    :mod:`core.jobs`). ``out_path``: save the result there (atomically), also when cancelled."""

    config: DigitsTrainConfig = field(default_factory=DigitsTrainConfig)
    out_path: str | None = None
    name: str = "train-digits"

    def run(self, report: Report = ignore_events,
            is_cancelled: IsCancelled = never_cancelled) -> FeedForwardTrainResult:
        import jax

        cfg = self.config
        net = cfg.network()
        _, notes = net.plan(cfg.mode)
        for note in notes:
            report(TrainProgress(job=self.name, message=note))
        split = load_digits_split(cfg.test_fraction, cfg.seed)
        x_train, y_train = split.x_train, split.y_train
        if cfg.max_train is not None:
            x_train, y_train = x_train[:int(cfg.max_train)], y_train[:int(cfg.max_train)]
        enc_rng = np.random.default_rng(cfg.seed + 7)
        X_test = encode(split.x_test, cfg.T, cfg.encoding, max_rate=cfg.max_rate,
                        rng=np.random.default_rng(cfg.seed + 11))

        def train_epoch(epoch):
            return (encode(x_train, cfg.T, cfg.encoding, max_rate=cfg.max_rate, rng=enc_rng),
                    y_train)

        params = net.init(jax.random.PRNGKey(cfg.seed))
        t0 = time.perf_counter()
        params, history, step_loss, cancelled, compile_s, devs = train_feedforward(
            net, params, train_epoch, (X_test, split.y_test), mode=cfg.mode, epochs=cfg.epochs,
            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, clip_norm=cfg.clip_norm,
            devices=cfg.devices, time_chunk=cfg.time_chunk, seed=cfg.seed, report=report,
            is_cancelled=is_cancelled, job_name=self.name)
        result = FeedForwardTrainResult(
            config=asdict(cfg), params=params, history=history, step_loss=step_loss,
            cancelled=cancelled, elapsed_s=time.perf_counter() - t0, compile_s=compile_s,
            devices=devs, versions=_versions(), notes=list(notes))
        if self.out_path is not None:
            result.to_hdf5(self.out_path)
        return result
