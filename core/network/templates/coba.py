"""The COBA benchmark network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1).

4 000 leaky integrate-and-fire neurons, 3 200 excitatory and 800 inhibitory, each pair connected
with probability 0.02, conductance-based exponential synapses, exactly as in the Brian2 COBA
benchmark script (``dv/dt = (ge (E_e - v) + gi (E_i - v) - (v - E_L) + I) / tau_m`` unless
refractory, ``dge/dt = -ge / tau_e``, ``dgi/dt = -gi / tau_i``, forward Euler, dt = 0.1 ms).
Conductances are dimensionless, in units of the leak conductance: a spike adds ``w_e = 0.6``
(``w_i = 6.7``) to ``ge`` (``gi``) of each target (the values quoted as 0.6 nS / 6.7 nS for a
1 nS leak). ``I = 20 mV`` is a constant drive; the initial V is N(-55, 5) mV.

One step, in Brian2's order: (1) refractory clock; (2) Euler update of V (frozen while
refractory) with the conductances of the previous step, and decay of ge, gi; (3) threshold
``V > V_th`` outside the refractory period; (4) propagation: every target of a spiking neuron
gets +1 (conductances are stored in units of their weight, so each event is an exact +1);
(5) reset ``V <- V_reset`` and the refractory clock ``<- t_ref``. Spike time is ``k dt``.

Speed (see ``/benchmarks/network.py``): event-driven propagation from a padded target table
(one row per presynaptic neuron, padding slots pointing at one dump cell per column); all
neuron state in one flat array ``S = [V slots, ge, gi, dump cells]`` (the refractory clock coded in
the V slot, see ``REF_CODE``), written by a single fusion (Euler step and decay) and is then the scatter target; spike
compaction by bit-packing: popcount per 32-neuron word, a 5-step binary search for the k-th set
bit, and a small fixed buffer of K (~12 for 4000 neurons) spikes per step; steps with more than
K spikes take an exact overflow branch (``lax.cond``) that processes the rest K at a time.
Measured on a 2-core Xeon, one XLA thread: ~10.5 us per step (was ~35-50 with K = 64, separate
V / g arrays and unroll 4); ``unroll = 2`` (4 about the same, 1 and 8 slower).
On a 2-core AMD EPYC (no AVX-512, 2026-12-01) the same code runs ~20-24 us per step with
unroll 1-8 all within noise, against ~30 us for Brian2 cpp_standalone on the same core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ...errors import ParameterError
from ...params import ParamSpec
from ..connectivity import fixed_probability, padded_targets
from ..populations import layout
from ..run import NetworkEngine, pack_bits, padded_size

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("n_exc", 3200, 1, 100000, "", False, "excitatory neurons", "positive"),
    ParamSpec("n_inh", 800, 1, 100000, "", False, "inhibitory neurons", "positive"),
    ParamSpec("p", 0.02, 0.0, 1.0, "", False, "connection probability", "nonnegative"),
    ParamSpec("tau_m", 20.0, 1.0, 200.0, "ms", False, "membrane time constant", "positive"),
    ParamSpec("tau_e", 5.0, 0.1, 100.0, "ms", False, "excitatory synaptic time constant",
              "positive"),
    ParamSpec("tau_i", 10.0, 0.1, 100.0, "ms", False, "inhibitory synaptic time constant",
              "positive"),
    ParamSpec("V_rest", -60.0, -90.0, -30.0, "mV", False, "leak reversal potential E_L"),
    ParamSpec("V_th", -50.0, -80.0, 0.0, "mV", False, "spike threshold"),
    ParamSpec("V_reset", -60.0, -90.0, -30.0, "mV", False, "reset potential"),
    ParamSpec("E_e", 0.0, -20.0, 50.0, "mV", False, "excitatory reversal potential"),
    ParamSpec("E_i", -80.0, -120.0, -50.0, "mV", False, "inhibitory reversal potential"),
    ParamSpec("w_e", 0.6, 0.0, 100.0, "g_L", False, "excitatory weight (units of g_leak)",
              "nonnegative"),
    ParamSpec("w_i", 6.7, 0.0, 1000.0, "g_L", False, "inhibitory weight (units of g_leak)",
              "nonnegative"),
    ParamSpec("I", 20.0, -100.0, 100.0, "mV", False, "constant drive (as a voltage, R I)"),
    ParamSpec("t_ref", 5.0, 0.0, 50.0, "ms", False, "refractory period", "nonnegative"),
    ParamSpec("V0_mean", -55.0, -90.0, -30.0, "mV", False, "mean initial V"),
    ParamSpec("V0_sd", 5.0, 0.0, 30.0, "mV", False, "s.d. of the initial V", "nonnegative"),
    ParamSpec("dt", 0.1, 0.001, 1.0, "ms", False, "time step", "positive"),
)
DEFAULTS = {p.name: p.default for p in PARAMS}


@dataclass(frozen=True)
class CobaStatic:
    n: int  # real neurons
    n_pad: int  # multiple of 32
    width: int  # padded table width
    K: int  # spike buffer per step
    n_ref: int
    c_dt_tau: float  # dt / tau_m
    decay_e: float
    decay_i: float
    V_rest: float
    V_th: float
    V_reset: float
    E_e: float
    E_i: float
    w_e: float
    w_i: float
    I: float
    dtype: str


def spike_buffer_size(n: int, p_spike_per_step: float = 0.002) -> int:
    """K: about one sd above the expected spikes per step (~20 Hz at dt = 0.1 ms), a multiple of
    4. A small buffer is faster: the gather and the scatter cost K rows every step, while the
    steps with more than K spikes (exact overflow branch) stay a minority (measured: K = 12 for
    4000 neurons beats K = 16 and 64)."""
    mu = n * p_spike_per_step
    return int(max(8, min(1024, 4 * math.ceil((mu + math.sqrt(mu)) / 4))))


class CobaNetwork(NetworkEngine):
    """The COBA network (module docstring); ``params`` override :data:`DEFAULTS`."""

    template = "coba"

    def __init__(self, seed: int = 0, dtype=jnp.float32, K: int | None = None,
                 unroll: int = 2, **params):
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ParameterError(f"coba has no parameter(s) {', '.join(sorted(unknown))}")
        s = {**DEFAULTS, **params}
        for spec in PARAMS:
            spec.check(s[spec.name], owner="coba")
        if s["V_reset"] >= s["V_th"]:
            raise ParameterError("coba.V_reset must lie below coba.V_th")
        if s["p"] > 1:
            raise ParameterError(f"coba.p must be a probability in [0, 1], got {s['p']}")
        s["n_exc"], s["n_inh"] = int(s["n_exc"]), int(s["n_inh"])
        self.settings = s
        self.seed = int(seed)
        self.dt = float(s["dt"])
        self.unroll = int(unroll)
        ne, ni = s["n_exc"], s["n_inh"]
        n = ne + ni
        self.populations = layout(("E", ne, "lif", 1), ("I", ni, "lif", -1))
        n_pad = padded_size(n)
        rng = np.random.default_rng(self.seed)
        self.proj = fixed_probability(n, n, s["p"], rng, autapses=True)
        deg = self.proj.out_degree()
        width = int(max(1, deg.max(initial=0)))
        # E presynaptic rows target ge (offset 0), I rows target gi (offset n_pad)
        dump = 2 * n_pad
        tab_e = padded_targets(_rows(self.proj, 0, ne), 0, dump, width, extra_rows=0)
        tab_i = padded_targets(_rows(self.proj, ne, n), n_pad, dump, width, extra_rows=0)
        filler = np.broadcast_to(dump + np.arange(width, dtype=np.int32),
                                 (n_pad - n + 1, width))
        self.table = np.concatenate([tab_e, tab_i, filler]).astype(np.int32)
        self.V0 = (s["V0_mean"] + s["V0_sd"] * rng.standard_normal(n))
        self._dtype = jnp.dtype(dtype)
        dt = self.dt
        self._static = CobaStatic(
            n=n, n_pad=n_pad, width=width, K=K or spike_buffer_size(n), n_ref=int(round(
                s["t_ref"] / dt)), c_dt_tau=dt / s["tau_m"], decay_e=1.0 - dt / s["tau_e"],
            decay_i=1.0 - dt / s["tau_i"], V_rest=s["V_rest"], V_th=s["V_th"],
            V_reset=s["V_reset"], E_e=s["E_e"], E_i=s["E_i"], w_e=s["w_e"], w_i=s["w_i"],
            I=s["I"], dtype=self._dtype.name)

    @property
    def static(self) -> CobaStatic:
        return self._static

    @property
    def params(self) -> dict:
        st = self._static
        decay = np.concatenate([np.full(st.n_pad, st.decay_e), np.full(st.n_pad, st.decay_i),
                                np.zeros(st.width)])
        # the state S is [V, ge, gi, dump]: the table's targets shift by n_pad
        return {"table": (self.table + st.n_pad).astype(np.int32),
                "decay": decay.astype(self._dtype)}

    def init_carry(self) -> dict:
        st = self._static
        V = np.full(st.n_pad, st.V_rest)
        V[:st.n] = self.V0
        S = np.concatenate([V, np.zeros(2 * st.n_pad + st.width)])
        return {"S": S.astype(self._dtype)}

    @staticmethod
    def voltage(static: CobaStatic, carry):
        return decode_v(static, carry["S"][:static.n_pad])

    @staticmethod
    def step_fn(st: CobaStatic, params, carry):
        return coba_step(st, params, carry)


def _rows(proj, start, stop):
    from ..connectivity import Projection

    ptr = proj.indptr[start:stop + 1]
    return Projection(stop - start, proj.n_post, ptr - ptr[0], proj.indices[ptr[0]:ptr[-1]])


def _select_bits(words, counts, cum, k, n_words):
    """Neuron index of the spike of rank ``k`` (vector) among the set bits of ``words``."""
    wk = jnp.sum((cum[None, :] <= k[:, None]).astype(jnp.int32), axis=1, dtype=jnp.int32)
    wk = jnp.minimum(wk, n_words - 1)
    r = k - (cum[wk] - counts[wk])
    w = words[wk]
    pos = jnp.zeros_like(r)
    for s in (16, 8, 4, 2, 1):
        low = jax.lax.population_count((w >> pos.astype(jnp.uint32))
                                       & jnp.uint32((1 << s) - 1)).astype(jnp.int32)
        go = r >= low
        r = jnp.where(go, r - low, r)
        pos = jnp.where(go, pos + s, pos)
    return wk * 32 + pos


def propagate(S, words, table, K: int, dump_row: int):
    """S[targets of every spiking neuron] += 1, with spikes given as packed ``words``.

    The first K spikes (in index order) are always processed; the rare steps with more than K
    spikes take the overflow branch, which processes the rest K at a time (exact)."""
    n_words = words.shape[0]
    counts = jax.lax.population_count(words).astype(jnp.int32)
    cum = jnp.cumsum(counts, dtype=jnp.int32)
    total = cum[-1]
    lanes = jnp.arange(K, dtype=jnp.int32)

    def add_batch(S, b):
        k = b * K + lanes
        idx = jnp.where(k < total, _select_bits(words, counts, cum, k, n_words), dump_row)
        idx = jax.lax.sort(idx)  # materialise the small index buffer before the gather
        rows = table[idx]
        return S.at[rows.reshape(-1)].add(jnp.ones((), S.dtype), mode="promise_in_bounds")

    def overflow(S):
        S, _ = jax.lax.while_loop(lambda c: c[1] * K < total,
                                  lambda c: (add_batch(c[0], c[1]), c[1] + 1), (S, jnp.int32(1)))
        return S

    S = add_batch(S, jnp.int32(0))
    return jax.lax.cond(total > K, overflow, lambda S: S, S)


# A refractory neuron's V slot holds REF_CODE + (steps left) instead of V (which is V_reset all
# along the refractory period): the clock needs no array of its own, and "spiked this step" is
# "slot == REF_CODE + n_ref". Active neurons never hold V > V_th after a step (they spike and
# reset), so the codes cannot be confused with a membrane potential (exact in float32 too).
REF_CODE = 65536.0


def decode_v(st: CobaStatic, s):
    """Membrane potentials from the V slots (refractory codes read as V_reset)."""
    return jnp.where(s >= REF_CODE, jnp.asarray(st.V_reset, s.dtype), s)


def coba_step(st: CobaStatic, params, carry):
    S = carry["S"]
    n_pad = st.n_pad
    s, ge, gi = S[:n_pad], S[n_pad:2 * n_pad], S[2 * n_pad:3 * n_pad]
    refractory = s >= REF_CODE
    left = s - (REF_CODE + 1)  # refractory steps left after this step's decrement
    active = ~refractory | (left <= 0)
    V = jnp.where(refractory, jnp.asarray(st.V_reset, S.dtype), s)
    dv = (st.w_e * ge * (st.E_e - V) + st.w_i * gi * (st.E_i - V) - (V - st.V_rest) + st.I
          ) * st.c_dt_tau
    V = V + dv
    valid = jnp.arange(n_pad) < st.n
    spike = (V > st.V_th) & active & valid
    s = jnp.where(spike, REF_CODE + st.n_ref, jnp.where(active, V, REF_CODE + left))
    # one flat state (V slots, ge, gi, dump cells), written by one fusion, then the scatter target
    S = jnp.concatenate([s, S[n_pad:] * params["decay"]])
    words = pack_bits(S[:n_pad] == REF_CODE + st.n_ref)
    S = propagate(S, words, params["table"], st.K, n_pad)
    return {"S": S}, words, decode_v(st, S[:n_pad])


def build(seed: int = 0, **params) -> CobaNetwork:
    """The COBA benchmark network (see the module docstring); keyword overrides of DEFAULTS."""
    return CobaNetwork(seed=seed, **params)
