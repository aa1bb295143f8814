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

Speed (see ``/benchmarks/network.py``): the state is two flat arrays, the V slots (the refractory
clock coded in them, see ``REF_CODE``) and ``G = [ge, gi]``. The Euler step is one fusion that
writes V in place; the decay is a second one that writes G in place (an optimisation barrier
stops XLA from fusing the decay into every reader of G, which made it copy G each step).
Spikes are bit-packed (32 neurons per word) and delivered by :func:`deliver`, plain nested loops
over the set bits and each spiking neuron's CSR row, which XLA's CPU backend compiles into one
native kernel (its small-while-loop hoisting), so the cost is ~one add per synaptic event: no
padded rows, no spike buffer, no overflow branch. Measured on a 2-core AMD EPYC (no AVX-512),
one core, 2026-12-01: the compiled loop ~10-13 us per step (it was ~20-24 us with a padded
target table, gather/scatter and an overflow branch); a whole 1 s run 0.13-0.15 s with host
decoding, against 0.24-0.38 s for Brian2 cpp_standalone on the same core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.lazy import jax, jnp

from ...errors import ParameterError
from ...params import ParamSpec
from ..connectivity import fixed_probability
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
    delivery: str  # "loops" (CPU: one native kernel) or "scatter" (accelerators)
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


class CobaNetwork(NetworkEngine):
    """The COBA network (module docstring); ``params`` override :data:`DEFAULTS`."""

    template = "coba"

    def __init__(self, seed: int = 0, dtype=np.float32, unroll: int = 1,
                 delivery: str | None = None, **params):
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
        # one flat target index per synapse into G = [ge, gi]: E rows hit ge, I rows gi (Dale)
        self.pre = np.repeat(np.arange(n), self.proj.out_degree())  # of every synapse
        self.targets = (self.proj.indices + np.where(self.pre >= ne, n_pad, 0)).astype(np.int32)
        self.V0 = (s["V0_mean"] + s["V0_sd"] * rng.standard_normal(n))
        self._dtype = jnp.dtype(dtype)
        # the loop nest is fast only where XLA compiles it into one CPU kernel; on a GPU every
        # loop iteration would be a kernel launch, so there a plain scatter delivers the events
        if delivery is None:
            delivery = "loops" if jax.default_backend() == "cpu" else "scatter"
        if delivery not in ("loops", "scatter"):
            raise ParameterError(f"coba delivery must be 'loops' or 'scatter', got {delivery!r}")
        dt = self.dt
        self._static = CobaStatic(
            n=n, n_pad=n_pad, delivery=delivery, n_ref=int(round(
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
        decay = np.concatenate([np.full(st.n_pad, st.decay_e), np.full(st.n_pad, st.decay_i)])
        # one spare entry: a row loop never reads it, but the array is never empty (p = 0)
        targets = np.concatenate([self.targets, np.zeros(1, np.int32)])
        p = {"indptr": self.proj.indptr.astype(np.int32), "targets": targets,
             "decay": decay.astype(self._dtype)}
        if st.delivery == "scatter":  # the spare synapse's presynaptic slot never fires
            p["pre"] = np.concatenate([self.pre, [st.n_pad]]).astype(np.int32)
        return p

    def init_carry(self) -> dict:
        st = self._static
        V = np.full(st.n_pad, st.V_rest)
        V[:st.n] = self.V0
        return {"V": V.astype(self._dtype), "G": np.zeros(2 * st.n_pad, self._dtype)}

    @staticmethod
    def voltage(static: CobaStatic, carry):
        return decode_v(static, carry["V"])

    @staticmethod
    def step_fn(st: CobaStatic, params, carry):
        return coba_step(st, params, carry)


def deliver(G, words, indptr, targets, block: int = 4):
    """``G[targets of every spiking neuron] += 1``, spikes given as packed ``words`` (bit b of
    word w is neuron 32 w + b) and synapses as CSR (``indptr``, flat ``targets`` into G).

    Written as plain loops on purpose: XLA's CPU backend compiles this small while-loop nest
    into a single native kernel, so each synaptic event costs one load and one add. A row is
    walked ``block`` synapses per iteration (measured ~20 % faster than one), then the rest."""

    block = min(block, targets.shape[0])

    def add_one(G, t):
        return jax.lax.dynamic_update_slice(G, jax.lax.dynamic_slice(G, (t,), (1,)) + 1, (t,))

    def one_word(w, G):
        def one_spike(carry):
            bits, G = carry
            lowest = bits & (~bits + jnp.uint32(1))
            j = w * 32 + jax.lax.population_count(lowest - jnp.uint32(1)).astype(jnp.int32)
            start, stop = indptr[j], indptr[j + 1]
            n_blocks = (stop - start) // block

            def add_block(b, G):
                ts = jax.lax.dynamic_slice(targets, (start + b * block,), (block,))
                for u in range(block):
                    G = add_one(G, ts[u])
                return G

            G = jax.lax.fori_loop(0, n_blocks, add_block, G)
            G = jax.lax.fori_loop(start + n_blocks * block, stop,
                                  lambda c, G: add_one(G, targets[c]), G)
            return bits ^ lowest, G

        return jax.lax.while_loop(lambda c: c[0] != 0, one_spike, (words[w], G))[1]

    return jax.lax.fori_loop(0, words.shape[0], one_word, G)


# A refractory neuron's V slot holds REF_CODE + (steps left) instead of V (which is V_reset all
# along the refractory period): the clock needs no array of its own, and "spiked this step" is
# "slot == REF_CODE + n_ref". Active neurons never hold V > V_th after a step (they spike and
# reset), so the codes cannot be confused with a membrane potential (exact in float32 too).
REF_CODE = 65536.0


def decode_v(st: CobaStatic, s):
    """Membrane potentials from the V slots (refractory codes read as V_reset)."""
    return jnp.where(s >= REF_CODE, jnp.asarray(st.V_reset, s.dtype), s)


def coba_step(st: CobaStatic, params, carry):
    s, G = carry["V"], carry["G"]
    ge, gi = G[:st.n_pad], G[st.n_pad:]
    refractory = s >= REF_CODE
    left = s - (REF_CODE + 1)  # refractory steps left after this step's decrement
    active = ~refractory | (left <= 0)
    V = jnp.where(refractory, jnp.asarray(st.V_reset, s.dtype), s)
    dv = (st.w_e * ge * (st.E_e - V) + st.w_i * gi * (st.E_i - V) - (V - st.V_rest) + st.I
          ) * st.c_dt_tau
    V = V + dv
    spike = (V > st.V_th) & active
    if st.n < st.n_pad:  # padding slots never spike
        spike = spike & (jnp.arange(st.n_pad) < st.n)
    s = jnp.where(spike, REF_CODE + st.n_ref, jnp.where(active, V, REF_CODE + left))
    G = jax.lax.optimization_barrier(G * params["decay"])
    fired = s == REF_CODE + st.n_ref
    words = pack_bits(fired)
    if st.delivery == "loops":
        G = deliver(G, words, params["indptr"], params["targets"])
    else:
        fired = jnp.append(fired.astype(G.dtype), 0)
        G = G.at[params["targets"]].add(fired[params["pre"]], mode="promise_in_bounds")
    return {"V": s, "G": G}, words, decode_v(st, s)


def build(seed: int = 0, **params) -> CobaNetwork:
    """The COBA benchmark network (see the module docstring); keyword overrides of DEFAULTS."""
    return CobaNetwork(seed=seed, **params)
