"""Speed races for live demos: jobs that measure in the worker and report every measurement as
an event the moment it is taken, so what the Speed panel draws is the run the user watches.

* :class:`FeedForwardRaceJob` -- one :class:`~core.training.feedforward.FeedForwardSNN` (``depth``
  hidden layers of ``width`` LIF neurons, 10 outputs) on one input of random spikes (10 % per
  step), inference or one training step (``value_and_grad`` of the cross-entropy), the same
  computation as ``benchmarks/feedforward.py``. Both modes are compiled first (compile seconds
  reported apart), checked against each other (spikes of every layer exactly, outputs allclose),
  then timed in alternating batches (``layer_first, step_first, step_first, layer_first, ...``:
  neither mode always goes first), each call ended with ``block_until_ready``.
* :class:`SynapseRaceJob` -- ``y = x @ W`` for one random connectivity: the event-driven CSR
  operator (:func:`~core.ops.csr.event_matvec`) against a dense matmul on the same weights
  (``CSR.to_dense``), per-call times alternating, plus the largest difference of the two results.
* :class:`MemoryRaceJob` -- memory and time of one training batch of the evidence network, BPTT
  against the online rule, per trial length ``T``
  (:func:`~core.training.memory.measure_training_step`, what ``benchmarks/training_memory.py``
  runs).

Every measurement is a :class:`SpeedSample` event (never coalesced by the engine). ``is_cancelled``
is polled between calls (never inside a compiled call); a cancelled race returns what it measured,
marked ``cancelled``. Results are plain picklable data.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError
from ..events import Event
from ..jobs import IsCancelled, Report, ignore_events, never_cancelled

WHATS = ("train_step", "inference")
FF_MODES = ("layer_first", "step_first")
SYN_SERIES = ("event", "dense")
NAN = float("nan")

#: largest sizes the races accept (a live demo, not a benchmark grid)
MAX_DEPTH, MAX_WIDTH, MAX_T, MAX_BATCH, MAX_REPEATS = 8, 4096, 2000, 512, 1000
MAX_FF_BYTES = 2 * 2**30  # layer activations kept for the backward pass
MAX_SYN_N = 16_000  # the dense matrix of N x N float32: 1 GiB
MAX_MEM_T, MAX_MEM_NEURONS = 5000, 2000


@dataclass(frozen=True)
class SpeedSample(Event):
    """One measurement of a race, sent as soon as it is taken.

    ``race`` "feedforward" | "synapse" | "memory"; ``series`` the contestant ("layer_first",
    "step_first", "event", "dense", "bptt", "online", ...); ``kind`` "compile" (``seconds`` of
    compiling), "time" (``seconds`` of call number ``index`` of that series) or "memory"
    (``mib``: XLA's planned peak of one training batch for trials of ``T`` steps, ``seconds`` per
    batch, ``compile_s``).
    """

    coalesce: ClassVar[bool] = False  # every sample is data: the engine must not drop any

    race: str = ""
    series: str = ""
    kind: str = "time"
    index: int = 0
    seconds: float = NAN
    T: int = 0
    mib: float = NAN
    compile_s: float = NAN


def _whole(name: str, value, lo: int, hi: int) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v) or v != int(v):
        raise ParameterError(f"{name} must be a whole number, got {value!r}")
    if not lo <= v <= hi:
        raise ParameterError(f"{name} must lie in [{lo}, {hi}], got {int(v)}")
    return int(v)


def _fraction(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: {value!r} is not a number") from None
    if not (math.isfinite(v) and 0.0 < v <= 1.0):
        raise ParameterError(f"{name} must lie in (0, 1], got {value!r}")
    return v


def _name(mode: str) -> str:
    return mode.replace("_", "-")


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times) if times else NAN


def _block(x):
    import jax

    return jax.block_until_ready(x)


def _backend() -> str:
    import jax

    return jax.default_backend()


# ---- layer-first vs step-first ---------------------------------------------------------------
@dataclass
class FeedForwardRaceResult:
    """Per mode the seconds of every timed batch (in the order run) and of compiling; whether the
    two modes gave the same spikes (every layer, exactly) and outputs (logits, or loss and
    gradients, within ``rtol`` 1e-4 of the largest value)."""

    config: dict[str, Any]
    arch: str
    times_s: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in FF_MODES})
    compile_s: dict[str, float] = field(default_factory=dict)
    identical_spikes: bool | None = None
    spike_flips: int = 0
    n_spikes: int = 0
    max_output_rel_diff: float = NAN
    cancelled: bool = False
    backend: str = ""

    OUTPUT_RTOL: ClassVar[float] = 1e-4

    def median_ms(self, mode: str) -> float:
        return _median_ms(self.times_s.get(mode, []))

    @property
    def speedup(self) -> float:
        """Median step-first time over median layer-first time (> 1: layer-first is faster)."""
        lf, sf = self.median_ms("layer_first"), self.median_ms("step_first")
        return sf / lf if lf > 0 and math.isfinite(sf) else NAN

    @property
    def outputs_close(self) -> bool | None:
        if not math.isfinite(self.max_output_rel_diff):
            return None
        return self.max_output_rel_diff <= self.OUTPUT_RTOL

    @property
    def identical(self) -> bool | None:
        """Same spikes and outputs (None until both were checked)."""
        if self.identical_spikes is None or self.outputs_close is None:
            return None
        return bool(self.identical_spikes and self.outputs_close)

    def summary(self) -> dict[str, Any]:
        return {**self.config, "arch": self.arch, "backend": self.backend,
                **{f"{m}_median_ms": self.median_ms(m) for m in FF_MODES},
                **{f"{m}_batches": len(self.times_s.get(m, [])) for m in FF_MODES},
                **{f"{m}_compile_s": self.compile_s.get(m, NAN) for m in FF_MODES},
                "speedup": self.speedup, "identical": self.identical,
                "identical_spikes": self.identical_spikes, "spike_flips": self.spike_flips,
                "max_output_rel_diff": self.max_output_rel_diff, "cancelled": self.cancelled}


def _max_rel_diff(a, b) -> float:
    """Largest ``|a - b|`` over every leaf, relative to that leaf's largest ``|b|``."""
    import jax

    worst = 0.0
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        scale = max(float(np.max(np.abs(y))) if y.size else 0.0, 1e-30)
        diff = float(np.max(np.abs(x - y))) if x.size else 0.0
        worst = max(worst, diff / scale)
    return worst


@dataclass
class FeedForwardRaceJob:
    """Layer-first against step-first on one network and one input (see the module doc).

    ``depth`` hidden layers of ``width`` neurons (input ``width`` channels, 10 classes), ``T``
    steps, ``batch`` samples, ``what`` "train_step" or "inference", ``repeats`` timed batches per
    mode."""

    depth: int = 3
    width: int = 512
    T: int = 100
    batch: int = 32
    what: str = "train_step"
    repeats: int = 10
    seed: int = 0
    name: str = "speed-feedforward"

    def __post_init__(self):
        self.depth = _whole("depth", self.depth, 1, MAX_DEPTH)
        self.width = _whole("width", self.width, 1, MAX_WIDTH)
        self.T = _whole("T", self.T, 1, MAX_T)
        self.batch = _whole("batch", self.batch, 1, MAX_BATCH)
        self.repeats = _whole("repeats", self.repeats, 1, MAX_REPEATS)
        if self.what not in WHATS:
            raise ParameterError(f"what must be one of {WHATS}, got {self.what!r}")
        need = 4 * 4 * self.T * self.batch * self.width * (self.depth + 1)
        if need > MAX_FF_BYTES:
            raise ParameterError(
                f"T x batch x width x layers = {self.T} x {self.batch} x {self.width} x "
                f"{self.depth + 1} needs about {need / 2**30:.1f} GiB of activations; the "
                f"race allows {MAX_FF_BYTES / 2**30:.0f} GiB (make one of them smaller)")

    @property
    def arch(self) -> str:
        return "-".join(str(n) for n in [self.width] * (self.depth + 1) + [10])

    def config(self) -> dict[str, Any]:
        return {"depth": self.depth, "width": self.width, "T": self.T, "batch": self.batch,
                "what": self.what, "repeats": self.repeats, "seed": self.seed}

    def _sample(self, series, kind, done, start, **kw) -> SpeedSample:
        return SpeedSample(job=self.name, race="feedforward", series=series, kind=kind,
                           done=done, total=2 * self.repeats,
                           elapsed=time.perf_counter() - start, **kw)

    def run(self, report: Report = ignore_events,
            is_cancelled: IsCancelled = never_cancelled) -> FeedForwardRaceResult:
        import jax
        import jax.numpy as jnp

        from .feedforward import FeedForwardSNN

        start = time.perf_counter()
        net = FeedForwardSNN.from_arch(self.arch, dtype="float32")
        params = net.init(jax.random.PRNGKey(self.seed))
        rng = np.random.default_rng(self.seed + 1)
        x = jnp.asarray((rng.random((self.T, self.batch, self.width)) < 0.1).astype(np.float32))
        y = jnp.asarray(np.arange(self.batch) % 10)
        B = self.batch
        result = FeedForwardRaceResult(config=self.config(), arch=self.arch,
                                       backend=_backend())

        def stop() -> FeedForwardRaceResult:
            result.cancelled = True
            return result

        def timed_fn(mode):
            def infer(p, x):
                return net.apply(p, x, mode=mode)

            def loss(p, x):
                logp = jax.nn.log_softmax(net.apply(p, x, mode=mode))
                return -jnp.mean(logp[jnp.arange(B), y])

            return infer if self.what == "inference" else jax.value_and_grad(loss)

        compiled, outputs = {}, {}
        for mode in FF_MODES:
            if is_cancelled():
                return stop()
            t0 = time.perf_counter()
            compiled[mode] = jax.jit(timed_fn(mode)).lower(params, x).compile()
            result.compile_s[mode] = time.perf_counter() - t0
            report(self._sample(mode, "compile", 0, start, seconds=result.compile_s[mode],
                                message=f"{_name(mode)} compiled in "
                                        f"{result.compile_s[mode]:.2f} s"))
        # the same answer? (a warm-up call of each compiled function, and every layer's spikes)
        spikes = {}
        for mode in FF_MODES:
            if is_cancelled():
                return stop()
            outputs[mode] = _block(compiled[mode](params, x))
            spikes[mode] = _block(jax.jit(lambda p, x, m=mode: net.apply(
                p, x, mode=m, return_spikes=True)[1])(params, x))
        result.max_output_rel_diff = _max_rel_diff(outputs["layer_first"],
                                                    outputs["step_first"])
        flips = sum(int(np.sum(np.asarray(a) != np.asarray(b)))
                    for a, b in zip(spikes["layer_first"], spikes["step_first"]))
        result.spike_flips = flips
        result.n_spikes = int(sum(float(np.sum(np.asarray(s))) for s in spikes["step_first"]))
        result.identical_spikes = flips == 0
        verdict = "identical" if result.identical else "different"
        report(self._sample("", "check", 0, start,
                            message=f"outputs {verdict}: {flips} spike(s) differ, outputs "
                                    f"within {result.max_output_rel_diff:.1e}"))
        done = 0
        for i in range(self.repeats):
            order = FF_MODES if i % 2 == 0 else FF_MODES[::-1]
            for mode in order:
                if is_cancelled():
                    return stop()
                t0 = time.perf_counter()
                _block(compiled[mode](params, x))
                dt = time.perf_counter() - t0
                result.times_s[mode].append(dt)
                done += 1
                report(self._sample(mode, "time", done, start, seconds=dt, index=i,
                                    message=f"{_name(mode)} batch {i + 1}: {1e3 * dt:.2f} ms"))
        return result


# ---- event-driven CSR vs dense ----------------------------------------------------------------
@dataclass
class SynapseRaceResult:
    """Per contestant ("event", "dense") the seconds of every call and of compiling; the
    connectivity's size, and the largest ``|event - dense|`` of the two results."""

    config: dict[str, Any]
    nnz: int = 0
    n_active: int = 0
    max_active: int = 0
    times_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SYN_SERIES})
    compile_s: dict[str, float] = field(default_factory=dict)
    max_abs_err: float = NAN
    dense_mib: float = NAN
    csr_mib: float = NAN
    cancelled: bool = False
    backend: str = ""

    def median_ms(self, series: str) -> float:
        return _median_ms(self.times_s.get(series, []))

    @property
    def speedup(self) -> float:
        """Median dense time over median event-driven time (> 1: event-driven is faster)."""
        ev, de = self.median_ms("event"), self.median_ms("dense")
        return de / ev if ev > 0 and math.isfinite(de) else NAN

    def summary(self) -> dict[str, Any]:
        return {**self.config, "nnz": self.nnz, "n_active": self.n_active,
                **{f"{s}_median_ms": self.median_ms(s) for s in SYN_SERIES},
                **{f"{s}_compile_s": self.compile_s.get(s, NAN) for s in SYN_SERIES},
                "speedup": self.speedup, "max_abs_err": self.max_abs_err,
                "dense_MiB": self.dense_mib, "csr_MiB": self.csr_mib,
                "cancelled": self.cancelled, "backend": self.backend}


@dataclass
class SynapseRaceJob:
    """``y = x @ W``, ``W`` (n, n) connected with probability ``p`` (normal weights), ``x`` bool
    spikes of ``active_fraction`` of the neurons: the event-driven operator against a dense
    matmul on the same weights, ``repeats`` calls each, alternating."""

    n: int = 4000
    p: float = 0.02
    active_fraction: float = 0.02
    repeats: int = 30
    seed: int = 0
    name: str = "speed-synapse"

    def __post_init__(self):
        self.n = _whole("neurons", self.n, 2, MAX_SYN_N)
        self.p = _fraction("connection probability p", self.p)
        self.active_fraction = _fraction("active fraction", self.active_fraction)
        self.repeats = _whole("repeats", self.repeats, 1, MAX_REPEATS)

    def config(self) -> dict[str, Any]:
        return {"n": self.n, "p": self.p, "active_fraction": self.active_fraction,
                "repeats": self.repeats, "seed": self.seed}

    def run(self, report: Report = ignore_events,
            is_cancelled: IsCancelled = never_cancelled) -> SynapseRaceResult:
        import jax
        import jax.numpy as jnp

        from ..ops.csr import CSR, event_matvec

        start = time.perf_counter()
        result = SynapseRaceResult(config=self.config(), backend=_backend())
        n = self.n
        csr = CSR.random(jax.random.PRNGKey(self.seed), n, n, self.p,
                         weight=lambda rng, m: rng.normal(size=m), dtype=np.float32,
                         homogeneous=False)
        W = _block(jax.jit(CSR.to_dense)(csr))
        rng = np.random.default_rng(self.seed + 1)
        n_active = max(1, round(self.active_fraction * n))
        active = np.zeros(n, bool)
        active[rng.choice(n, n_active, replace=False)] = True
        spikes = jnp.asarray(active)
        k = min(n, math.ceil(1.25 * n_active) + 16)  # the spike buffer (benchmarks/csr.py)
        result.nnz, result.n_active, result.max_active = csr.nnz, n_active, k
        result.dense_mib = n * n * 4 / 2**20
        result.csr_mib = sum(np.asarray(a).nbytes for a in (
            csr.indptr, csr.indices, csr.weights, csr.rows, csr.ell)) / 2**20
        fns = {"event": (lambda x, c: event_matvec(x, c, k), (spikes, csr)),
               "dense": (lambda x, W: x.astype(W.dtype) @ W, (spikes, W))}
        compiled, outs = {}, {}
        for s in SYN_SERIES:
            if is_cancelled():
                result.cancelled = True
                return result
            fn, args = fns[s]
            t0 = time.perf_counter()
            compiled[s] = jax.jit(fn).lower(*args).compile()
            result.compile_s[s] = time.perf_counter() - t0
            outs[s] = np.asarray(_block(compiled[s](*args)))  # warm-up, and the answer
            report(SpeedSample(job=self.name, race="synapse", series=s, kind="compile",
                               seconds=result.compile_s[s], total=2 * self.repeats,
                               elapsed=time.perf_counter() - start,
                               message=f"{s} compiled in {result.compile_s[s]:.2f} s"))
        result.max_abs_err = float(np.max(np.abs(outs["event"] - outs["dense"])))
        done = 0
        for i in range(self.repeats):
            for s in (SYN_SERIES if i % 2 == 0 else SYN_SERIES[::-1]):
                if is_cancelled():
                    result.cancelled = True
                    return result
                fn, args = fns[s]
                t0 = time.perf_counter()
                _block(compiled[s](*args))
                dt = time.perf_counter() - t0
                result.times_s[s].append(dt)
                done += 1
                report(SpeedSample(job=self.name, race="synapse", series=s, kind="time",
                                   index=i, seconds=dt, done=done, total=2 * self.repeats,
                                   elapsed=time.perf_counter() - start,
                                   message=f"{s} call {i + 1}: {1e3 * dt:.3f} ms"))
        return result


# ---- BPTT vs online memory -------------------------------------------------------------------
@dataclass
class MemoryRaceResult:
    """The rows of :func:`~core.training.memory.measure_training_step` measured so far (dicts
    with ``T``, ``variant``, ``peak_MiB``, ``temp_MiB``, ``compile_s``, ``s_per_batch``)."""

    config: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    backend: str = ""

    def series(self, variant: str, key: str = "peak_MiB") -> tuple[list[int], list[float]]:
        rows = [r for r in self.rows if r["variant"] == variant]
        return [r["T"] for r in rows], [float(r.get(key, NAN)) for r in rows]

    def ratio_at_longest(self, a: str = "bptt", b: str = "online",
                         key: str = "peak_MiB") -> float:
        """``a``'s ``key`` over ``b``'s at the longest T both have (NaN when none)."""
        va = dict(zip(*self.series(a, key)))
        vb = dict(zip(*self.series(b, key)))
        common = sorted(set(va) & set(vb))
        return va[common[-1]] / vb[common[-1]] if common else NAN

    def summary(self) -> dict[str, Any]:
        return {**self.config, "rows": [dict(r) for r in self.rows],
                "bptt_over_online_peak_at_longest_T": self.ratio_at_longest(),
                "cancelled": self.cancelled, "backend": self.backend}


@dataclass
class MemoryRaceJob:
    """BPTT against the online rule: one training batch of the evidence network (``neurons``,
    4 E : 1 I) for each trial length in ``T_values``, batch ``batch``; ``reps`` timed batches
    per point (0: memory only)."""

    T_values: tuple[int, ...] = (100, 200, 500, 1000)
    batch: int = 16
    neurons: int = 400
    variants: tuple[str, ...] = ("bptt", "online")
    reps: int = 1
    name: str = "speed-memory"

    def __post_init__(self):
        from .memory import MIN_T, VARIANTS

        try:
            values = [self.T_values] if isinstance(self.T_values, (int, float)) else list(
                self.T_values)
        except TypeError:
            raise ParameterError(f"T values must be a list of numbers, got "
                                 f"{self.T_values!r}") from None
        if not values:
            raise ParameterError("give at least one trial length T")
        self.T_values = tuple(sorted({_whole("T", t, MIN_T, MAX_MEM_T) for t in values}))
        self.batch = _whole("batch", self.batch, 1, MAX_BATCH)
        self.neurons = _whole("neurons", self.neurons, 5, MAX_MEM_NEURONS)
        self.reps = _whole("repeats", self.reps, 0, 100)
        self.variants = tuple(self.variants)
        for v in self.variants:
            if v not in VARIANTS:
                raise ParameterError(f"variant must be one of {tuple(VARIANTS)}, got {v!r}")

    def config(self) -> dict[str, Any]:
        return {"T_values": list(self.T_values), "batch": self.batch, "neurons": self.neurons,
                "variants": list(self.variants), "reps": self.reps}

    def run(self, report: Report = ignore_events,
            is_cancelled: IsCancelled = never_cancelled) -> MemoryRaceResult:
        from .memory import measure_training_step

        start = time.perf_counter()
        result = MemoryRaceResult(config=self.config(), backend=_backend())
        total = len(self.T_values) * len(self.variants)
        for T in self.T_values:
            for v in self.variants:
                if is_cancelled():
                    result.cancelled = True
                    return result
                row = measure_training_step(T, v, batch_size=self.batch, reps=self.reps,
                                            neurons=self.neurons)
                result.rows.append(row)
                report(SpeedSample(
                    job=self.name, race="memory", series=v, kind="memory", T=int(T),
                    mib=row["peak_MiB"], seconds=row.get("s_per_batch", NAN),
                    compile_s=row["compile_s"], done=len(result.rows), total=total,
                    elapsed=time.perf_counter() - start,
                    message=f"{v} at T={T}: {row['peak_MiB']:.1f} MiB"))
        return result
