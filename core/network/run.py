"""Chunked network simulation with spikes and membrane traces streamed into HDF5.

A network engine (:class:`NetworkEngine`) is a pure step function plus its parameters; this module
runs it as a Python loop over compiled ``lax.scan`` chunks. Between chunks it decodes the chunk's
spikes (bit-packed, 32 neurons per ``uint32`` word and time step), appends them and the recorded
traces to the HDF5 file, reports a :class:`~core.events.SimulationProgress` with a small preview
of the chunk's spikes, polls ``is_cancelled`` and checks the state for NaN/divergence. Memory is
flat in duration: only one chunk lives in memory unless ``keep_in_memory``.

The per-step function is the same whatever the chunking, so a chunked run equals an unchunked run
exactly.

HDF5 layout (``layout="brainfit-network"``)::

    /network                 attrs: layout, layout_version, template, dt (ms), duration_ms,
                             n_steps_done, seed, complete, status, settings (JSON),
                             populations (JSON), versions (JSON), elapsed_s, compile_s
    /network/spikes/t        float64 (n_spikes,) ms, resizable (time of the step, t = k dt)
    /network/spikes/i        int32 (n_spikes,) neuron index
    /network/spike_counts    int64 (n_neurons,)  (written at the end)
    /network/traces/V        float32 (n_steps, n_recorded) mV, attrs indices, dt
"""

from __future__ import annotations

import abc
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.lazy import jax, jit, jnp

from .. import library_versions
from ..errors import DivergenceError, JobCancelled, ParameterError
from ..events import SimulationProgress
from ..io.atomic import AtomicFile
from ..jobs import IsCancelled, Report, ignore_events, never_cancelled
from .populations import Population, mean_rates, population_of

LAYOUT = "brainfit-network"
LAYOUT_VERSION = 1


# ---- engines ---------------------------------------------------------------------------------
def pack_bits(spike) -> jax.Array:
    """Bit-pack a boolean vector (length a multiple of 32) into uint32 words, bit b of word w
    being neuron ``32 w + b``."""
    s = spike.reshape(-1, 32).astype(jnp.uint32)
    return jnp.sum(s << jnp.arange(32, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)


def padded_size(n: int) -> int:
    return max(32, -(-n // 32) * 32)


class NetworkEngine(abc.ABC):
    """A network as a pure step function.

    Subclasses set ``template``, ``populations``, ``dt`` (ms), ``settings`` (JSON-able),
    ``seed``, and implement :meth:`init_carry` and the static :meth:`step_fn`
    ``(static, params, carry) -> (carry, words, V)`` where ``words`` is the bit-packed spike
    vector (see :func:`pack_bits`, padded to :func:`padded_size` neurons) and ``V`` the membrane
    potential (mV) of every neuron (used for recorded traces and the divergence check).
    ``static`` must be hashable (it is a ``jit`` static argument); ``params`` is a pytree.
    """

    template: str = ""
    populations: tuple[Population, ...] = ()
    dt: float = 0.1
    seed: int = 0
    settings: dict
    v_limit: float = 1000.0
    unroll: int = 4

    @property
    def n_neurons(self) -> int:
        return self.populations[-1].stop if self.populations else 0

    @abc.abstractmethod
    def init_carry(self) -> Any:
        """Initial state pytree (NumPy or JAX arrays)."""

    @property
    @abc.abstractmethod
    def static(self) -> Any:
        """Hashable configuration (shapes, constants) for the compiled step."""

    @property
    @abc.abstractmethod
    def params(self) -> Any:
        """Array parameters of the compiled step (a pytree)."""

    @staticmethod
    @abc.abstractmethod
    def step_fn(static, params, carry):
        """One time step: ``(carry, words, V)``."""

    @staticmethod
    def voltage(static, carry):
        """Membrane potentials in the carry (for the divergence check)."""
        return carry["V"]

    def describe(self) -> dict:
        return {"template": self.template, "dt": self.dt, "seed": self.seed,
                "populations": [p.as_dict() for p in self.populations], "settings": self.settings}


@jit(static_argnames=("step_fn", "voltage", "static", "n_steps", "unroll", "v_limit"))
def _run_chunk(params, carry, record, *, step_fn, voltage, static, n_steps, unroll, v_limit):
    def body(c, _):
        c, words, V = step_fn(static, params, c)
        return c, (words, V[record])

    carry, (words, traces) = jax.lax.scan(body, carry, None, length=n_steps, unroll=unroll)
    V = voltage(static, carry)
    status = jnp.where(jnp.any(~jnp.isfinite(V)), 2, jnp.where(jnp.any(jnp.abs(V) > v_limit), 1, 0))
    return carry, words, traces, status


class ChunkRunner:
    """Compiles (once per chunk length) and runs an engine's chunks; remembers compile time."""

    def __init__(self, engine: NetworkEngine, record: np.ndarray):
        self.engine = engine
        self.record = jnp.asarray(record, jnp.int32)
        self.params = jax.tree_util.tree_map(jnp.asarray, engine.params)
        self._compiled: dict[int, Any] = {}
        self.compile_s = 0.0

    def _kwargs(self, n):
        e = self.engine
        return dict(step_fn=type(e).step_fn, voltage=type(e).voltage, static=e.static,
                    n_steps=n, unroll=e.unroll, v_limit=e.v_limit)

    def compiled(self, carry, n: int):
        if n not in self._compiled:
            t0 = time.perf_counter()
            lowered = _run_chunk.lower(self.params, carry, self.record, **self._kwargs(n))
            self._compiled[n] = lowered.compile()
            self.compile_s += time.perf_counter() - t0
        return self._compiled[n]

    def __call__(self, carry, n: int):
        return self.compiled(carry, n)(self.params, carry, self.record)


_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _popcount32(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # NumPy >= 2.0
        return np.bitwise_count(x)
    return _POP8[x.view(np.uint8)].reshape(*x.shape, 4).sum(axis=-1)


def decode_spikes(words: np.ndarray, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """(step, index) of every set bit of ``words`` (T, n_words), sorted by step then index.

    Vectorised over the nonzero words only: each pass takes the lowest set bit of every word
    that still has one (a word holds only a few spikes, so there are only a few passes); ~6x
    faster than expanding every nonzero word into 32 bits."""
    words = np.ascontiguousarray(words, dtype=np.uint32)
    per_step = words.shape[1] * 32 if words.ndim == 2 else 0
    wf = words.reshape(-1)
    nz = np.flatnonzero(wf)
    if nz.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    cur = wf[nz]
    cnt = _popcount32(cur).astype(np.int64)
    slot = np.cumsum(cnt) - cnt  # where each word's first spike goes
    base = nz.astype(np.int64) * 32
    flat = np.empty(int(cnt.sum()), np.int64)
    while True:
        low = cur & (~cur + np.uint32(1))  # lowest set bit
        flat[slot] = base + _popcount32(low - np.uint32(1))
        cur ^= low
        more = np.flatnonzero(cur)
        if more.size == 0:
            break
        cur, slot, base = cur[more], slot[more] + 1, base[more]
    t, idx = np.divmod(flat, per_step)
    keep = idx < n_neurons
    if not keep.all():
        t, idx = t[keep], idx[keep]
    return t, idx.astype(np.int32)


# ---- results ---------------------------------------------------------------------------------
@dataclass
class NetworkResult:
    """A network simulation as plain data (NumPy), saved to and loaded from HDF5.

    ``spike_t`` (ms) and ``spike_i`` hold every spike when ``spikes_in_memory`` (else read them
    from ``path``); ``traces`` is (n_steps, n_recorded) membrane potential (mV) of the neurons
    ``trace_indices``, sampled every ``dt``; ``spike_counts`` is per neuron.
    """

    template: str
    populations: tuple[Population, ...]
    dt: float
    duration_ms: float
    spike_t: np.ndarray
    spike_i: np.ndarray
    spike_counts: np.ndarray
    trace_indices: np.ndarray
    traces: np.ndarray
    settings: dict = field(default_factory=dict)
    seed: int = 0
    elapsed_s: float = 0.0
    compile_s: float = 0.0
    path: str | None = None
    spikes_in_memory: bool = True
    complete: bool = True

    @property
    def n_neurons(self) -> int:
        return int(self.spike_counts.size)

    @property
    def n_spikes(self) -> int:
        return int(self.spike_counts.sum())

    @property
    def trace_t(self) -> np.ndarray:
        return np.arange(self.traces.shape[0]) * self.dt

    def mean_rates(self) -> dict[str, float]:
        """Mean firing rate (Hz) per population."""
        return mean_rates(self.populations, self.spike_counts, self.duration_ms)

    def population_of(self, index) -> np.ndarray:
        return population_of(self.populations, index)

    def summary(self) -> dict:
        return {"template": self.template, "neurons": self.n_neurons, "spikes": self.n_spikes,
                "duration_ms": self.duration_ms, "mean_rate_hz": self.mean_rates(),
                "seconds": round(self.elapsed_s, 4), "compile_seconds": round(self.compile_s, 4),
                "seed": self.seed}

    def save(self, path) -> None:
        """Write the whole result (layout in the module docstring) to the file ``path``, or into
        an open ``h5py.Group`` (it gets a ``network`` subgroup; the file stays open)."""
        if not self.spikes_in_memory:
            raise ParameterError("this result's spikes live only in its HDF5 file "
                                 f"{self.path!r}; copy that file instead")
        w = H5NetworkWriter(path, _meta(self), self.trace_indices, self.dt)
        try:
            w.append(self.spike_t, self.spike_i, self.traces)
            w.finish(self.spike_counts, self.duration_ms, self.elapsed_s, self.compile_s,
                     complete=self.complete, status="ok")
        except BaseException:
            w.discard()
            raise

    @classmethod
    def load(cls, path) -> NetworkResult:
        """Read a result from the file ``path`` or from the ``network`` subgroup of an open
        ``h5py.Group``."""
        import contextlib

        import h5py

        from ..errors import BrainfitError

        if isinstance(path, h5py.Group):
            opened, where = contextlib.nullcontext(path), f"{path.file.filename}:{path.name}"
        else:
            opened, where = None, path
        try:
            with opened if opened is not None else h5py.File(path, "r") as f:
                path = where
                if "network" not in f or f["network"].attrs.get("layout") != LAYOUT:
                    raise BrainfitError(f"{path}: not a Brainfit network result")
                g = f["network"]
                a = g.attrs
                pops = tuple(Population(**p) for p in json.loads(a["populations"]))
                traces = g["traces/V"]
                return cls(template=str(a["template"]), populations=pops, dt=float(a["dt"]),
                           duration_ms=float(a["duration_ms"]), spike_t=g["spikes/t"][()],
                           spike_i=g["spikes/i"][()], spike_counts=g["spike_counts"][()],
                           trace_indices=traces.attrs["indices"][()].astype(np.int64),
                           traces=traces[()], settings=json.loads(a["settings"]),
                           seed=int(a["seed"]), elapsed_s=float(a["elapsed_s"]),
                           compile_s=float(a["compile_s"]), path=str(path),
                           complete=bool(a["complete"]))
        except (OSError, KeyError) as exc:
            raise BrainfitError(f"{path}: cannot read network result ({exc})") from None


def _meta(r) -> dict:
    return {"template": r.template, "populations": [p.as_dict() for p in r.populations],
            "settings": r.settings, "seed": r.seed}


class H5NetworkWriter:
    """Appends spikes and traces to an HDF5 file chunk by chunk (resizable datasets)."""

    def __init__(self, path, meta: dict, trace_indices, dt: float):
        import h5py

        # a path: a temporary file beside it that replaces it in finish() (atomic: an interrupted
        # run leaves the previous file intact); an open h5py.Group: write into its "network"
        # subgroup and leave the file open
        self.owns_file = not isinstance(path, h5py.Group)
        self._atomic = AtomicFile(path) if self.owns_file else None
        try:
            self.file = h5py.File(self._atomic.tmp, "w") if self.owns_file else path.file
        except BaseException:
            self.discard()
            raise
        parent = self.file if self.owns_file else path
        if not self.owns_file and "network" in parent:
            del parent["network"]
        g = self.group = parent.create_group("network")
        g.attrs.update(layout=LAYOUT, layout_version=LAYOUT_VERSION, template=meta["template"],
                       dt=dt, seed=int(meta["seed"]), complete=False, status="running",
                       duration_ms=0.0, n_steps_done=0, elapsed_s=0.0, compile_s=0.0,
                       settings=json.dumps(meta["settings"], default=_jsonable),
                       populations=json.dumps(meta["populations"]),
                       versions=json.dumps(library_versions("jax", "numpy")))
        s = g.create_group("spikes")
        s.create_dataset("t", (0,), np.float64, maxshape=(None,), chunks=(1 << 16,))
        s.create_dataset("i", (0,), np.int32, maxshape=(None,), chunks=(1 << 16,))
        n_rec = len(trace_indices)
        if n_rec:
            tr = g.create_dataset("traces/V", (0, n_rec), np.float32, maxshape=(None, n_rec),
                                  chunks=(max(1, min(1 << 14, (1 << 18) // n_rec)), n_rec))
        else:  # nothing recorded: an empty, fixed dataset
            tr = g.create_dataset("traces/V", (0, 0), np.float32)
        tr.attrs["indices"] = np.asarray(trace_indices, np.int64)
        tr.attrs["units"] = "mV"
        tr.attrs["dt"] = dt

    def append(self, t, i, traces) -> None:
        s = self.group["spikes"]
        n0 = s["t"].shape[0]
        if len(t):
            s["t"].resize((n0 + len(t),))
            s["i"].resize((n0 + len(t),))
            s["t"][n0:] = t
            s["i"][n0:] = i
        if traces is not None and traces.shape[1] and traces.shape[0]:
            tr = self.group["traces/V"]
            m0 = tr.shape[0]
            tr.resize((m0 + traces.shape[0], tr.shape[1]))
            tr[m0:] = traces

    def progress(self, done_ms: float, n_steps: int) -> None:
        self.group.attrs.update(duration_ms=done_ms, n_steps_done=n_steps)
        self.file.flush()

    def finish(self, counts, duration_ms, elapsed_s, compile_s, complete: bool, status: str):
        g = self.group
        if "spike_counts" in g:
            del g["spike_counts"]
        g.create_dataset("spike_counts", data=np.asarray(counts, np.int64))
        g.attrs.update(duration_ms=duration_ms, elapsed_s=elapsed_s, compile_s=compile_s,
                       complete=complete, status=status)
        if self.owns_file:
            self.file.close()
            self._atomic.commit()

    def discard(self) -> None:
        """Give up a file this writer owns: the temporary file goes, the old file stays."""
        if self._atomic is not None:
            if getattr(self, "file", None) is not None:
                self.file.close()
            self._atomic.discard()


def _jsonable(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


# ---- the loop --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpikePreview:
    """Spikes of one chunk for a live raster (at most ``max_spikes``, evenly thinned), and the
    recorded traces of the chunk decimated to at most ``max_points`` samples."""

    t_ms: np.ndarray
    index: np.ndarray
    thinned: bool
    trace_t_ms: np.ndarray
    traces: np.ndarray

    def __repr__(self) -> str:
        return (f"SpikePreview({len(self.t_ms)} spikes{' thinned' if self.thinned else ''}, "
                f"traces {self.traces.shape})")


def _preview(t, i, steps0, traces, dt, max_spikes=4000, max_points=500) -> SpikePreview:
    thinned = len(t) > max_spikes
    if thinned:
        sel = np.linspace(0, len(t) - 1, max_spikes).astype(np.int64)
        t, i = t[sel], i[sel]
    stride = max(1, -(-traces.shape[0] // max_points))
    tr = traces[::stride].copy()
    tt = (steps0 + np.arange(0, traces.shape[0], stride)) * dt
    return SpikePreview(np.array(t), np.array(i), thinned, tt, tr)


def run_network(engine: NetworkEngine, duration_ms: float, *, chunk_ms: float | None = None,
                record=(), out_path=None, keep_in_memory: bool = True,
                report: Report = ignore_events, is_cancelled: IsCancelled = never_cancelled,
                job_name: str = "simulate") -> NetworkResult:
    """Simulate ``engine`` for ``duration_ms`` in chunks of ``chunk_ms``.

    ``record``: neuron indices whose membrane potential is kept every step. ``out_path``: stream
    spikes and traces into this HDF5 file while running. ``keep_in_memory=False`` (only with
    ``out_path``) keeps nothing but per-neuron spike counts, so memory is flat in duration.
    Raises :class:`~core.errors.DivergenceError` when the state becomes NaN/inf or leaves
    ``|V| <= engine.v_limit``, :class:`~core.errors.JobCancelled` when cancelled (the file then
    holds everything up to the last finished chunk, ``complete=False``).
    """
    dt = float(engine.dt)
    if not (isinstance(duration_ms, (int, float)) and math.isfinite(duration_ms)
            and duration_ms > 0):
        raise ParameterError(f"duration must be a positive number of ms, got {duration_ms!r}")
    n_steps = int(round(duration_ms / dt))
    if n_steps < 1:
        raise ParameterError(f"duration {duration_ms} ms is shorter than one step ({dt} ms)")
    if chunk_ms is None:
        chunk_ms = 1000.0
    if not (math.isfinite(chunk_ms) and chunk_ms > 0):
        raise ParameterError(f"chunk length must be a positive number of ms, got {chunk_ms!r}")
    chunk = max(1, min(n_steps, int(round(chunk_ms / dt))))
    if not keep_in_memory and out_path is None:
        raise ParameterError("keep_in_memory=False needs an output file")
    n = engine.n_neurons
    record = np.asarray(list(record), dtype=np.int64).reshape(-1)
    if record.size and (record.min() < 0 or record.max() >= n):
        raise ParameterError(f"recorded neuron indices must lie in [0, {n - 1}], "
                             f"got {record.min()}..{record.max()}")
    runner = ChunkRunner(engine, record)
    carry = jax.tree_util.tree_map(jnp.asarray, engine.init_carry())
    writer = (H5NetworkWriter(out_path, {"template": engine.template, "seed": engine.seed,
                                          "populations": [p.as_dict() for p in engine.populations],
                                          "settings": engine.settings}, record, dt)
              if out_path is not None else None)
    counts = np.zeros(n, np.int64)
    spikes_t, spikes_i, traces_all = [], [], []
    done = 0
    start = time.perf_counter()
    status = "ok"
    try:
        while done < n_steps:
            if is_cancelled():
                status = "cancelled"
                raise JobCancelled("simulation cancelled by the user")
            m = min(chunk, n_steps - done)
            runner.compiled(carry, m)  # compile outside the timed chunk
            carry, words, traces, st = runner(carry, m)
            words = np.asarray(words)
            traces = np.asarray(traces)
            st = int(st)
            if st:
                status = "diverged"
                raise _divergence(engine, runner, carry, done, m, st)
            steps, idx = decode_spikes(words, n)
            t = (steps + done) * dt
            counts += np.bincount(idx, minlength=n)
            if writer is not None:
                writer.append(t, idx, traces)
                writer.progress((done + m) * dt, done + m)
            if keep_in_memory:
                spikes_t.append(t)
                spikes_i.append(idx)
                traces_all.append(traces)
            report(SimulationProgress(
                job=job_name, done=done + m, total=n_steps,
                elapsed=time.perf_counter() - start - runner.compile_s,
                message=f"{(done + m) * dt:.0f} / {n_steps * dt:.0f} ms", t_ms=(done + m) * dt,
                spikes=int(len(idx)), preview=_preview(t, idx, done, traces, dt)))
            done += m
    finally:
        elapsed = time.perf_counter() - start - runner.compile_s
        if writer is not None:
            writer.finish(counts, done * dt, elapsed, runner.compile_s,
                          complete=done == n_steps, status=status)
    cat = (lambda xs, dtype: np.concatenate(xs) if xs else np.zeros(0, dtype))
    return NetworkResult(
        template=engine.template, populations=engine.populations, dt=dt,
        duration_ms=n_steps * dt, spike_t=cat(spikes_t, np.float64),
        spike_i=cat(spikes_i, np.int32), spike_counts=counts, trace_indices=record,
        traces=(np.concatenate(traces_all) if traces_all
                else np.zeros((0, record.size), np.float32)),
        settings=engine.settings, seed=engine.seed, elapsed_s=elapsed,
        compile_s=runner.compile_s, path=None if out_path is None else str(out_path),
        spikes_in_memory=keep_in_memory)


def _divergence(engine, runner, carry, done, m, st) -> DivergenceError:
    V = np.asarray(type(engine).voltage(engine.static, carry))[:engine.n_neurons]
    bad = ~np.isfinite(V) if st == 2 else np.abs(V) > engine.v_limit
    first = int(np.argmax(bad))
    pop = engine.populations[int(population_of(engine.populations, first))]
    what = "NaN/inf" if st == 2 else f"|V| > {engine.v_limit:g} mV"
    t0, t1 = done * engine.dt, (done + m) * engine.dt
    return DivergenceError(
        f"the {engine.template} network diverged between t = {t0:g} and {t1:g} ms: {what} in "
        f"{int(bad.sum())} of {engine.n_neurons} neurons (first: {pop.name} neuron "
        f"{first - pop.start}); reduce dt or the synaptic weights")


