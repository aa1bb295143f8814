"""The locust antennal lobe of Bazhenov et al. 2001, as in the PSST tutorial (Day 6 example).

90 projection neurons (PN) and 30 local neurons (LN), single-compartment Hodgkin-Huxley-type
cells (C = 1 uF/cm^2; conductances in mS/cm^2, currents in uA/cm^2: this template works in
densities), integrated with the core RK4 solver (dt = 0.01 ms).

* all neurons: leak I_L (g_L = 0.15; E_L = -55 mV PN, -50 mV LN), potassium leak I_KL
  (g_KL = 0.05 PN / 0.02 LN, E_KL = -95 mV), delayed rectifier I_K (g_K = 10, E_K = -95 mV, n^4,
  Traub-Miles rates shifted by V_T = -50 mV, T = 22 C, phi = 3^((T - 36)/10));
* PN: I_Na (g_Na = 100, E_Na = 50 mV, m^3 h, same shift and phi) and the transient I_A
  (g_A = 10, E_A = -95 mV, m^4 h);
* LN: I_Ca (g_Ca = 3, E_Ca = 140 mV, m^2 h, tau_m = 1.5 ms), I_KCa (g_KCa = 0.3, E_KCa = -90 mV,
  alpha = 0.01 [Ca], beta = 0.02) and calcium dynamics d[Ca]/dt = -A I_Ca - ([Ca] - Ca0)/tau_Ca
  (A = 2e-4, Ca0 = 2.4e-4, tau_Ca = 150 ms).
* synapses (first-order kinetics, :mod:`core.network.synapses`): nicotinic ACh from PNs
  (alpha = 10, beta = 0.2, transmitter 0.5 for 0.3 ms after each presynaptic spike, E = 0 mV,
  g = 0.3 onto LNs) and fast GABA_A from LNs (alpha = 10, beta = 0.16, sigmoid transmitter
  V0 = -20 mV, sigma = 1.5 mV, E = -70 mV, g = 0.8); connection probabilities PN->PN 0,
  PN->LN 0.5, LN->LN 0.5, LN->PN 0.5. ``g`` is the total maximal conductance a neuron receives
  from fully open synapses of one type, shared equally by its presynaptic partners.
* odor: a random third of the neurons receive a current that rises towards ``odor_amp`` with
  time constant ``odor_rise`` from ``odor_on`` to ``odor_off`` and then decays with
  tau = 150 ms; every neuron gets an independent small noise current (Ornstein-Uhlenbeck free:
  a constant ``bias`` plus white noise of s.d. ``noise`` per step).

A spike is an upward crossing of 0 mV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.lazy import jax, jnp

from ...errors import ParameterError
from ...integrate.solvers import RK4
from ...models.hh import traub_miles_rates
from ...params import ParamSpec
from ..connectivity import fixed_probability
from ..populations import layout
from ..run import NetworkEngine, pack_bits, padded_size
from ..synapses import first_order_kinetics, transmitter_pulse, transmitter_sigmoid

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("n_pn", 90, 1, 5000, "", False, "projection neurons", "positive"),
    ParamSpec("n_ln", 30, 1, 5000, "", False, "local neurons", "positive"),
    ParamSpec("p_pn_ln", 0.5, 0.0, 1.0, "", False, "PN -> LN connection probability",
              "nonnegative"),
    ParamSpec("p_ln_ln", 0.5, 0.0, 1.0, "", False, "LN -> LN connection probability",
              "nonnegative"),
    ParamSpec("p_ln_pn", 0.5, 0.0, 1.0, "", False, "LN -> PN connection probability",
              "nonnegative"),
    ParamSpec("g_ach", 0.3, 0.0, 10.0, "mS/cm2", False, "ACh conductance onto LNs",
              "nonnegative"),
    ParamSpec("g_gaba", 0.8, 0.0, 10.0, "mS/cm2", False, "GABA_A conductance", "nonnegative"),
    ParamSpec("odor_amp", 10.0, 0.0, 100.0, "uA/cm2", False, "odor current amplitude",
              "nonnegative"),
    ParamSpec("odor_fraction", 0.33, 0.0, 1.0, "", False, "fraction of neurons receiving odor",
              "nonnegative"),
    ParamSpec("odor_on", 100.0, 0.0, 1e6, "ms", False, "odor onset", "nonnegative"),
    ParamSpec("odor_off", 600.0, 0.0, 1e6, "ms", False, "odor offset", "nonnegative"),
    ParamSpec("odor_rise", 20.0, 0.1, 1000.0, "ms", False, "odor rise time constant",
              "positive"),
    ParamSpec("odor_decay", 150.0, 0.1, 1000.0, "ms", False, "odor decay time constant",
              "positive"),
    ParamSpec("noise", 0.0, 0.0, 10.0, "uA/cm2", False, "white-noise current s.d.",
              "nonnegative"),
    ParamSpec("dt", 0.01, 0.001, 0.1, "ms", False, "time step (RK4)", "positive"),
)
DEFAULTS = {p.name: p.default for p in PARAMS}


PHI_22 = 3.0 ** ((22.0 - 36.0) / 10.0)
PHI_A = 3.0 ** ((36.0 - 23.5) / 10.0)
PHI_KCA = 2.3 ** ((26.0 - 23.0) / 10.0)


def _na_k_rates(V):
    r = traub_miles_rates(V + 50.0, n_alpha=0.02)  # V_T = -50 mV
    return r["m"], r["h"], r["n"]


def _a_current(V):
    m_inf = 1.0 / (1.0 + jnp.exp(-(V + 60.0) / 8.5))
    h_inf = 1.0 / (1.0 + jnp.exp((V + 78.0) / 6.0))
    tau_m = 1.0 / (jnp.exp((V + 35.82) / 19.69) + jnp.exp(-(V + 79.69) / 12.7) + 0.37) / PHI_A
    tau_h1 = 1.0 / (jnp.exp((V + 46.05) / 5.0) + jnp.exp(-(V + 238.4) / 37.45)) / PHI_A
    tau_h = jnp.where(V < -63.0, tau_h1, 19.0 / PHI_A)
    return m_inf, tau_m, h_inf, tau_h


def _ca_current(V):
    m_inf = 1.0 / (1.0 + jnp.exp(-(V + 20.0) / 6.5))
    h_inf = 1.0 / (1.0 + jnp.exp((V + 25.0) / 12.0))
    tau_h = 0.3 * jnp.exp((V - 40.0) / 13.0) + 0.002 * jnp.exp((60.0 - V) / 29.0)
    return m_inf, 1.5, h_inf, tau_h


@dataclass(frozen=True)
class ALStatic:
    n_pn: int
    n_ln: int
    dt: float


def vector_field(st: ALStatic, p: dict, y: dict, I_ext, t_since_spike):
    """Time derivatives of the whole network state ``y`` (dict of arrays)."""
    npn = st.n_pn
    V = y["V"]
    Vp, Vl = V[:npn], V[npn:]
    (am, bm), (ah, bh), (an, bn) = _na_k_rates(V)
    n = y["n"]
    I_K = 10.0 * n**4 * (V + 95.0)
    I_L = 0.15 * (V - p["E_L"])
    I_KL = p["g_KL"] * (V + 95.0)
    # PN-only currents
    m, h = y["m"], y["h"]
    I_Na = 100.0 * m**3 * h * (Vp - 50.0)
    mA_inf, tau_mA, hA_inf, tau_hA = _a_current(Vp)
    I_A = 10.0 * y["mA"]**4 * y["hA"] * (Vp + 95.0)
    # LN-only currents
    mCa_inf, tau_mCa, hCa_inf, tau_hCa = _ca_current(Vl)
    I_Ca = 3.0 * y["mCa"]**2 * y["hCa"] * (Vl - 140.0)
    Ca = y["Ca"]
    a_kca = 0.01 * Ca
    I_KCa = 0.3 * y["kCa"] * (Vl + 90.0)
    # synapses: open fraction per presynaptic neuron; W rows presynaptic (normalised weights)
    I_ach = (y["o_ach"] @ p["W_ach"]) * (V - 0.0)
    I_gaba = (y["o_gaba"] @ p["W_gaba"]) * (V + 70.0)
    I_ion = I_K + I_L + I_KL + I_ach + I_gaba
    I_ion = I_ion.at[:npn].add(I_Na + I_A).at[npn:].add(I_Ca + I_KCa)
    T_ach = transmitter_pulse(t_since_spike[:npn], 0.5, 0.3)
    T_gaba = transmitter_sigmoid(Vl, -20.0, 1.5)
    return {
        "V": I_ext - I_ion,  # C = 1 uF/cm^2
        "n": (an * (1.0 - n) - bn * n) * PHI_22,
        "m": (am[:npn] * (1.0 - m) - bm[:npn] * m) * PHI_22,
        "h": (ah[:npn] * (1.0 - h) - bh[:npn] * h) * PHI_22,
        "mA": (mA_inf - y["mA"]) / tau_mA,
        "hA": (hA_inf - y["hA"]) / tau_hA,
        "mCa": (mCa_inf - y["mCa"]) / tau_mCa,
        "hCa": (hCa_inf - y["hCa"]) / tau_hCa,
        "kCa": (a_kca * (1.0 - y["kCa"]) - 0.02 * y["kCa"]) * PHI_KCA,
        "Ca": -2e-4 * I_Ca - (Ca - 2.4e-4) / 150.0,
        "o_ach": first_order_kinetics(y["o_ach"], T_ach, 10.0, 0.2),
        "o_gaba": first_order_kinetics(y["o_gaba"], T_gaba, 10.0, 0.16),
    }


@dataclass(frozen=True)
class _ALField:
    """The whole network as one "model" for the core RK4 solver; the time since each neuron's
    last spike (the ACh pulse depends on it) rides along in the state with derivative 1, so the
    stages see it at t, t + dt/2 and t + dt."""

    st: ALStatic
    p: dict

    def vector_field(self, y, I_ext):
        ts = y["t_since_spike"]
        rest = {k: v for k, v in y.items() if k != "t_since_spike"}
        return {**vector_field(self.st, self.p, rest, I_ext, ts), "t_since_spike": jnp.ones_like(ts)}


def rk4(st, p, y, I_ext, t_since_spike):
    new = RK4().step(_ALField(st, p), {**y, "t_since_spike": t_since_spike}, I_ext, st.dt)
    del new["t_since_spike"]
    return new


class AntennalLobe(NetworkEngine):
    """The locust antennal-lobe template (module docstring) for ``run_network``."""

    template = "antennal-lobe"
    unroll = 1
    v_limit = 500.0

    def __init__(self, seed: int = 0, dtype=np.float32, **params):
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ParameterError(f"antennal-lobe has no parameter(s) "
                                 f"{', '.join(sorted(unknown))}")
        s = {**DEFAULTS, **params}
        for spec in PARAMS:
            spec.check(s[spec.name], owner="antennal-lobe")
        for k in ("p_pn_ln", "p_ln_ln", "p_ln_pn", "odor_fraction"):
            if s[k] > 1:
                raise ParameterError(f"antennal-lobe.{k} must lie in [0, 1], got {s[k]}")
        s["n_pn"], s["n_ln"] = int(s["n_pn"]), int(s["n_ln"])
        self.settings, self.seed, self.dt = s, int(seed), float(s["dt"])
        npn, nln = s["n_pn"], s["n_ln"]
        n = npn + nln
        self.populations = layout(("PN", npn, "hh_pn", 1), ("LN", nln, "hh_ln", -1))
        rng = np.random.default_rng(self.seed)
        ach = np.zeros((npn, n))
        ach[:, npn:] = fixed_probability(npn, nln, s["p_pn_ln"], rng).to_dense()
        gaba = np.zeros((nln, n))
        gaba[:, npn:] = fixed_probability(nln, nln, s["p_ln_ln"], rng, autapses=False
                                          ).to_dense()
        gaba[:, :npn] = fixed_probability(nln, npn, s["p_ln_pn"], rng).to_dense()
        # total conductance g per postsynaptic neuron, shared by its presynaptic partners
        ach = s["g_ach"] * ach / np.maximum(ach.sum(axis=0), 1.0)
        gaba = s["g_gaba"] * gaba / np.maximum(gaba.sum(axis=0), 1.0)
        self.odor_mask = (rng.random(n) < s["odor_fraction"]).astype(np.float64)
        self.dtype = jnp.dtype(dtype)
        E_L = np.r_[np.full(npn, -55.0), np.full(nln, -50.0)]
        g_KL = np.r_[np.full(npn, 0.05), np.full(nln, 0.02)]
        self._params = {"W_ach": ach, "W_gaba": gaba, "E_L": E_L, "g_KL": g_KL,
                        "odor_mask": self.odor_mask,
                        "V0": -65.0 + 5.0 * rng.standard_normal(n)}
        self._params = {k: np.asarray(v, self.dtype) for k, v in self._params.items()}
        steps = lambda ms: int(round(ms / self.dt))
        self._static = ALStatic(npn, nln, self.dt)
        self._odor = (steps(s["odor_on"]), steps(s["odor_off"]), float(s["odor_amp"]),
                      float(s["odor_rise"]), float(s["odor_decay"]), float(s["noise"]))

    @property
    def static(self):
        return (self._static, self._odor)

    @property
    def params(self):
        return self._params

    def init_carry(self):
        st = self._static
        npn, n = st.n_pn, st.n_pn + st.n_ln
        V = jnp.asarray(self._params["V0"], jnp.float64)
        (am, bm), (ah, bh), (an, bn) = _na_k_rates(V)
        mA, _, hA, _ = _a_current(V[:npn])
        mCa, _, hCa, _ = _ca_current(V[npn:])
        y = {"V": V, "n": an / (an + bn), "m": (am / (am + bm))[:npn],
             "h": (ah / (ah + bh))[:npn], "mA": mA, "hA": hA, "mCa": mCa, "hCa": hCa,
             "kCa": jnp.zeros(n - npn), "Ca": jnp.full(n - npn, 2.4e-4),
             "o_ach": jnp.zeros(npn), "o_gaba": jnp.zeros(n - npn)}
        y = jax.tree_util.tree_map(lambda a: np.asarray(a, self.dtype), y)
        return {"y": y, "t_spike": np.full(n, -1e4, self.dtype), "k": np.int32(0),
                "key": np.asarray(jax.random.key_data(jax.random.key(self.seed + 7)))}

    @staticmethod
    def voltage(static, carry):
        return carry["y"]["V"]

    @staticmethod
    def odor_current(static, k):
        st, (on, off, amp, rise, decay, _) = static
        t = k * st.dt
        t_on, t_off = on * st.dt, off * st.dt
        rising = amp * (1.0 - jnp.exp(-(t - t_on) / rise))
        peak = amp * (1.0 - jnp.exp(-(t_off - t_on) / rise))
        return jnp.where(k < on, 0.0, jnp.where(k < off, rising,
                                                peak * jnp.exp(-(t - t_off) / decay)))

    @staticmethod
    def step_fn(static, params, carry):
        st, odor = static
        k, y = carry["k"], carry["y"]
        n = st.n_pn + st.n_ln
        I_ext = AntennalLobe.odor_current(static, k) * params["odor_mask"]
        if odor[5] > 0:
            key = jax.random.fold_in(jax.random.wrap_key_data(carry["key"]), k)
            I_ext = I_ext + odor[5] * jax.random.normal(key, (n,), y["V"].dtype)
        t = k * st.dt
        t_since = t - carry["t_spike"]
        new = rk4(st, params, y, I_ext.astype(y["V"].dtype), t_since)
        spike = (y["V"] < 0.0) & (new["V"] >= 0.0)
        t_spike = jnp.where(spike, (t + st.dt).astype(carry["t_spike"].dtype), carry["t_spike"])
        words = pack_bits(jnp.pad(spike, (0, padded_size(n) - n)))
        return {"y": new, "t_spike": t_spike, "k": k + 1, "key": carry["key"]}, words, new["V"]


def build(seed: int = 0, **params) -> AntennalLobe:
    """The locust antennal lobe (Bazhenov et al. 2001 via PSST; see the module docstring);
    keyword overrides of DEFAULTS."""
    return AntennalLobe(seed=seed, **params)
