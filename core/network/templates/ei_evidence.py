"""The evidence-accumulation EI network of the seed paper (Appendix F).

400 GIF neurons, 320 excitatory and 80 inhibitory (4:1), recurrent connections with probability
0.1 obeying Dale's law, conductance-based exponential synapses (E_exc = 0 mV, E_inh = -120 mV,
tau_syn = 10 ms), 100 Poisson input neurons in four groups of 25 (left cue, right cue, recall,
background) and a leaky readout with two outputs.

Membrane potentials are scaled, ``v = (V + V_offset) / V_scale`` with V_scale = 20 mV and
V_offset = 60 mV, so rest/reset are 0 and the threshold (-40 mV) is 1; reversal potentials scale
the same way (E_exc -> 3, E_inh -> -3). In scaled units the GIF neuron (core.models.GIF with
R / V_scale) obeys

    tau_V dv/dt = -v + (R / V_scale) (I1 + I2) + g_e (e_exc - v) + g_i (e_inh - v),
    g_x <- g_x exp(-dt / tau_syn) + sum_j |W_xj| z_j          (x = e, i; j excitatory / inhibitory)

with forward Euler, spikes ``z = H(v - 1)`` (surrogate gradient backward) and GIF resets. The
readout (Eqs. 17-18) is ``y_t = kappa y_{t-1} + W_out z_t + b_out``, kappa = exp(-dt/tau_out).
Weights are initialised as ``|N(0, 1)| * sqrt(s / n_in)`` (n_in the expected fan-in, ``s`` a
scale per pathway) times a Bernoulli(p) mask; the step uses ``|W|`` so Dale's law survives
training.

:func:`ei_step` is a pure, differentiable function of (params, state, input spikes) for BPTT and
online training; :class:`EINetwork` wraps it for ``run_network`` with the task's trial schedule
and Poisson input (:mod:`core.tasks.evidence_accumulation`, trial after trial): each trial shows
``n_cues`` cues (sides drawn as the task draws them, 40 Hz on that side's group) of ``cue_ms``
separated by ``gap_ms``, then a delay, then the recall cue (40 Hz) for ``recall_ms``; the
background group fires at 10 Hz throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.lazy import jax, jnp

from ...errors import ParameterError
from ...integrate import get_solver
from ...models import GIF
from ...params import ParamSpec
from ...surrogate import get_surrogate
from ...tasks.evidence_accumulation import EvidenceTask, input_rates, sample_sides, step_input
from ..populations import layout
from ..run import NetworkEngine, pack_bits, padded_size

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("n_exc", 320, 1, 10000, "", False, "excitatory GIF neurons", "positive"),
    ParamSpec("n_inh", 80, 1, 10000, "", False, "inhibitory GIF neurons", "positive"),
    ParamSpec("n_in_group", 25, 1, 1000, "", False, "input neurons per group (4 groups)",
              "positive"),
    ParamSpec("p", 0.1, 0.0, 1.0, "", False, "recurrent connection probability", "nonnegative"),
    ParamSpec("tau_syn", 10.0, 0.5, 100.0, "ms", False, "synaptic time constant", "positive"),
    ParamSpec("E_exc", 0.0, -20.0, 50.0, "mV", False, "excitatory reversal potential"),
    ParamSpec("E_inh", -120.0, -150.0, -60.0, "mV", False, "inhibitory reversal potential"),
    ParamSpec("V_scale", 20.0, 1.0, 100.0, "mV", False, "membrane scale", "positive"),
    ParamSpec("V_offset", 60.0, 0.0, 100.0, "mV", False, "membrane offset"),
    ParamSpec("tau_V", 20.0, 2.0, 200.0, "ms", False, "membrane time constant", "positive"),
    ParamSpec("A1", 0.0, -3.0, 3.0, "nA", False, "spike-triggered current 1 (set)"),
    ParamSpec("A2", -0.05, -3.0, 3.0, "nA", False, "spike-triggered current 2 (increment)"),
    ParamSpec("R", 20.0, 1.0, 500.0, "MOhm", False, "input resistance", "positive"),
    ParamSpec("s_in", 0.25, 0.0, 100.0, "", False, "input weight scale s", "nonnegative"),
    ParamSpec("s_rec", 0.05, 0.0, 100.0, "", False, "recurrent weight scale s", "nonnegative"),
    ParamSpec("rate_cue", 40.0, 0.0, 500.0, "Hz", False, "cue input rate", "nonnegative"),
    ParamSpec("rate_bg", 10.0, 0.0, 500.0, "Hz", False, "background input rate", "nonnegative"),
    ParamSpec("n_cues", 7, 1, 50, "", False, "cues per trial", "positive"),
    ParamSpec("cue_ms", 100.0, 1.0, 1000.0, "ms", False, "cue duration", "positive"),
    ParamSpec("gap_ms", 50.0, 0.0, 1000.0, "ms", False, "pause between cues", "nonnegative"),
    ParamSpec("delay_ms", 500.0, 0.0, 5000.0, "ms", False, "delay before recall", "nonnegative"),
    ParamSpec("recall_ms", 150.0, 1.0, 1000.0, "ms", False, "recall cue duration", "positive"),
    ParamSpec("tau_out", 20.0, 1.0, 1000.0, "ms", False, "readout time constant", "positive"),
    ParamSpec("dt", 1.0, 0.01, 2.0, "ms", False, "time step", "positive"),
)
DEFAULTS = {p.name: p.default for p in PARAMS}


@dataclass(frozen=True)
class EIStatic:
    n_exc: int
    n_inh: int
    n_in: int
    dt: float
    decay_syn: float
    kappa: float
    e_exc: float
    e_inh: float
    V_scale: float
    V_offset: float
    surrogate: str = "sigmoid"


def init_params(key_or_seed, n_exc=320, n_inh=80, n_in=100, p=0.1, s_in=0.25, s_rec=0.05,
                n_out=2, dtype=np.float32) -> dict:
    """Weights ``|N(0,1)| * sqrt(s / n_in)`` masked with probability ``p`` (recurrent, no
    autapses; inputs all-to-all); rows are presynaptic. Magnitudes: the sign follows Dale's law
    (rows ``< n_exc`` excite, the rest inhibit)."""
    rng = np.random.default_rng(key_or_seed)
    n = n_exc + n_inh
    mask = rng.random((n, n)) < p
    np.fill_diagonal(mask, False)
    fan_in = max(p * n, 1.0)
    w_rec = np.abs(rng.standard_normal((n, n))) * math.sqrt(s_rec / fan_in) * mask
    w_in = np.abs(rng.standard_normal((n_in, n))) * math.sqrt(s_in / n_in)
    w_out = rng.standard_normal((n, n_out)) * math.sqrt(1.0 / n)
    return {"w_rec": jnp.asarray(w_rec, dtype), "mask": jnp.asarray(mask, dtype),
            "w_in": jnp.asarray(w_in, dtype), "w_out": jnp.asarray(w_out, dtype),
            "b_out": jnp.zeros(n_out, dtype)}


def scaled_gif(s: dict, n: int, dtype=np.float32) -> GIF:
    """core GIF in scaled units: rest/reset 0, threshold 1, R divided by V_scale."""
    return GIF(tau_V=s["tau_V"], R=s["R"] / s["V_scale"], V_rest=0.0, V_reset=0.0, V_th=1.0,
               A1=s["A1"], A2=s["A2"]).astype(dtype)


def ei_step(static: EIStatic, model: GIF, params: dict, state: dict, x_in):
    """One Euler step of the EI network; pure and differentiable.

    ``state``: {"neuron": GIF state dict (scaled v), "g_e", "g_i", "y", "z"}; ``x_in``: input
    spikes (n_in,) 0/1. Returns ``(state, z)`` with ``z`` the network's spikes (surrogate)."""
    ne = static.n_exc
    v = state["neuron"]["V"]
    syn = (state["g_e"] * (static.e_exc - v) + state["g_i"] * (static.e_inh - v)) / model.R
    neuron = get_solver("euler").step(model, state["neuron"], syn, static.dt)
    z = get_surrogate(static.surrogate)(model.spike_value(neuron))
    neuron = model.reset(neuron, z)
    w_rec = jnp.abs(params["w_rec"]) * params["mask"]
    z_prev = state["z"]
    g_e = state["g_e"] * static.decay_syn + z_prev[:ne] @ w_rec[:ne] + x_in @ jnp.abs(
        params["w_in"])
    g_i = state["g_i"] * static.decay_syn + z_prev[ne:] @ w_rec[ne:]
    y = static.kappa * state["y"] + z @ params["w_out"] + params["b_out"]
    return {"neuron": neuron, "g_e": g_e, "g_i": g_i, "y": y, "z": z}, z


def init_state(model: GIF, n: int, n_out: int = 2, dtype=np.float32) -> dict:
    return {"neuron": model.init_state((n,), dtype), "g_e": jnp.zeros(n, dtype),
            "g_i": jnp.zeros(n, dtype), "y": jnp.zeros(n_out, dtype), "z": jnp.zeros(n, dtype)}


class EINetwork(NetworkEngine):
    """The EI template for ``run_network``: populations E, I, then the four input groups."""

    template = "ei"
    unroll = 2

    def __init__(self, seed: int = 0, dtype=np.float32, **params):
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ParameterError(f"ei has no parameter(s) {', '.join(sorted(unknown))}")
        s = {**DEFAULTS, **params}
        for spec in PARAMS:
            spec.check(s[spec.name], owner="ei")
        if s["p"] > 1:
            raise ParameterError(f"ei.p must be a probability in [0, 1], got {s['p']}")
        for k in ("n_exc", "n_inh", "n_in_group", "n_cues"):
            s[k] = int(s[k])
        self.settings, self.seed, self.dt = s, int(seed), float(s["dt"])
        ne, ni, g = s["n_exc"], s["n_inh"], s["n_in_group"]
        self.n_net = ne + ni
        self.populations = layout(("E", ne, "gif", 1), ("I", ni, "gif", -1),
                                  ("in_left", g, "poisson", 1), ("in_right", g, "poisson", 1),
                                  ("in_recall", g, "poisson", 1), ("in_background", g,
                                                                    "poisson", 1))
        self.dtype = jnp.dtype(dtype)
        self.model = scaled_gif(s, self.n_net, self.dtype)
        self.weights = init_params(self.seed, ne, ni, 4 * g, s["p"], s["s_in"], s["s_rec"],
                                   dtype=self.dtype)
        dt = self.dt
        # the trial schedule and the Poisson input are the task's (core.tasks)
        self.task = EvidenceTask(n_cues=s["n_cues"], cue_ms=s["cue_ms"], gap_ms=s["gap_ms"],
                                 delay_ms=s["delay_ms"], recall_ms=s["recall_ms"], n_group=g,
                                 rate_cue=s["rate_cue"], rate_bg=s["rate_bg"], dt=dt)
        self._static = EIStatic(ne, ni, 4 * g, dt, math.exp(-dt / s["tau_syn"]),
                                math.exp(-dt / s["tau_out"]),
                                (s["E_exc"] + s["V_offset"]) / s["V_scale"],
                                (s["E_inh"] + s["V_offset"]) / s["V_scale"], s["V_scale"],
                                s["V_offset"])

    @property
    def trial_steps(self) -> int:
        return self.task.T

    @property
    def static(self):
        return (self._static, self.task, self.n_neurons)

    @property
    def params(self):
        return {"model": self.model, "weights": self.weights}

    def init_carry(self):
        return {"state": init_state(self.model, self.n_net, 2, self.dtype), "t": np.int32(0),
                "key": jax.random.key_data(jax.random.key(self.seed + 1))}

    @staticmethod
    def trial_sides(static, t):
        """``(trial, step in trial, (1, n_cues) cue sides)`` at global step ``t``: trial ``k``
        draws its sides as the task does, from a key of its own."""
        task = static[1]
        trial, u = t // task.T, t % task.T
        sides = sample_sides(jax.random.fold_in(jax.random.key(12345), trial), task, 1)
        return trial, u, sides

    @staticmethod
    def input_rates(static, t):
        """Rates (Hz) of the four input groups at step ``t``."""
        _, u, sides = EINetwork.trial_sides(static, t)
        return input_rates(static[1], sides, u)[0]

    @staticmethod
    def voltage(static, carry):
        st = static[0]
        return carry["state"]["neuron"]["V"] * st.V_scale - st.V_offset

    @staticmethod
    def step_fn(static, params, carry):
        st, task, n_total = static
        t = carry["t"]
        trial, u, sides = EINetwork.trial_sides(static, t)
        keys = jax.random.fold_in(jax.random.wrap_key_data(carry["key"]), trial)[None]
        x_in = step_input(task, keys, sides, u, params["weights"]["w_in"].dtype)[0]
        state, z = ei_step(st, params["model"], params["weights"], carry["state"], x_in)
        spikes = jnp.concatenate([z > 0.5, x_in > 0.5])
        n_pad = padded_size(n_total)
        words = pack_bits(jnp.pad(spikes, (0, n_pad - n_total)))
        V = state["neuron"]["V"] * st.V_scale - st.V_offset
        V = jnp.concatenate([V, jnp.full(st.n_in, -st.V_offset, V.dtype)])
        return {"state": state, "t": t + 1, "key": carry["key"]}, words, V


def build(seed: int = 0, **params) -> EINetwork:
    """The seed's evidence-accumulation EI network (see the module docstring); keyword
    overrides of DEFAULTS."""
    return EINetwork(seed=seed, **params)
