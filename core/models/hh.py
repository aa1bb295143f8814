"""Hodgkin–Huxley point neurons: the classic squid axon and a cortical pyramidal cell
(Pospischil et al. 2008 / Traub–Miles kinetics with threshold shift V_T, optional M-current).

Conductances are whole-cell (uS), capacitance in nF, so C dV/dt is in nA.
"""

from __future__ import annotations

from typing import ClassVar

from core.lazy import jnp

from ..params import ParamSpec
from .base import NeuronModel, neuron_model


def vtrap(x, k):
    """x / (exp(x/k) - 1), continuous (and differentiable) through x = 0 where it equals k."""
    small = jnp.abs(x / k) < 1e-6
    x_safe = jnp.where(small, k, x)
    return jnp.where(small, k * (1.0 - x / (2.0 * k)), x_safe / jnp.expm1(x_safe / k))


def traub_miles_rates(u, n_alpha: float = 0.032) -> dict:
    """Traub-Miles Na (m, h) and delayed-rectifier K (n) rates (1/ms) at ``u = V - V_T`` mV:
    ``{gate: (alpha, beta)}``. ``n_alpha`` scales alpha_n (0.032 in Pospischil et al. 2008,
    0.02 in the antennal-lobe model of Bazhenov et al. 2001)."""
    return {
        "m": (0.32 * vtrap(13.0 - u, 4.0), 0.28 * vtrap(u - 40.0, 5.0)),
        "h": (0.128 * jnp.exp((17.0 - u) / 18.0), 4.0 / (1.0 + jnp.exp((40.0 - u) / 5.0))),
        "n": (n_alpha * vtrap(15.0 - u, 5.0), 0.5 * jnp.exp((10.0 - u) / 40.0)),
    }


def _steady_gates(rates: dict, V):
    return {g: a / (a + b) for g, (a, b) in rates(V).items()}


@neuron_model
class HHSquid(NeuronModel):
    """Classic Hodgkin–Huxley (1952) squid axon, rest near -65 mV, for a 1000 um^2 patch
    (1 uF/cm^2 -> 0.01 nF; 120/36/0.3 mS/cm^2 -> 1.2/0.36/0.003 uS).

    C dV/dt = -gNa m^3 h (V-ENa) - gK n^4 (V-EK) - gL (V-EL) + I_ext
    """

    name: ClassVar[str] = "hh_squid"
    doc: ClassVar[str] = "classic Hodgkin–Huxley squid axon (1000 um^2 patch)"
    STATE: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n")
    has_reset: ClassVar[bool] = False
    v_detect: ClassVar[float] = -20.0
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("C", 0.01, 0.001, 0.1, "nF", False, "membrane capacitance", "positive", True),
        ParamSpec("gNa", 1.2, 0.12, 12.0, "uS", True, "maximal sodium conductance", "nonnegative"),
        ParamSpec("gK", 0.36, 0.036, 3.6, "uS", True, "maximal potassium conductance", "nonnegative"),
        ParamSpec("gL", 0.003, 0.0003, 0.03, "uS", True, "leak conductance", "nonnegative"),
        ParamSpec("ENa", 50.0, 20.0, 80.0, "mV", False, "sodium reversal potential"),
        ParamSpec("EK", -77.0, -100.0, -60.0, "mV", False, "potassium reversal potential"),
        ParamSpec("EL", -54.387, -80.0, -40.0, "mV", False, "leak reversal potential"),
    )

    @staticmethod
    def rates(V):
        return {
            "m": (0.1 * vtrap(-(V + 40.0), 10.0), 4.0 * jnp.exp(-(V + 65.0) / 18.0)),
            "h": (0.07 * jnp.exp(-(V + 65.0) / 20.0), 1.0 / (1.0 + jnp.exp(-(V + 35.0) / 10.0))),
            "n": (0.01 * vtrap(-(V + 55.0), 10.0), 0.125 * jnp.exp(-(V + 65.0) / 80.0)),
        }

    def init_state(self, shape=(), dtype=None, V0=-65.0):
        V = jnp.broadcast_to(jnp.asarray(V0, dtype) + 0.0 * jnp.asarray(self.C, dtype), shape)
        return {"V": V, **_steady_gates(self.rates, V)}

    def vector_field(self, state, I_ext):
        V, m, h, n = state["V"], state["m"], state["h"], state["n"]
        I_ion = (self.gNa * m**3 * h * (V - self.ENa) + self.gK * n**4 * (V - self.EK)
                 + self.gL * (V - self.EL))
        d = {"V": (I_ext - I_ion) / self.C}
        for g, (a, b) in self.rates(V).items():
            d[g] = a * (1.0 - state[g]) - b * state[g]
        return d

    def spike_value(self, state):
        return state["V"] - self.v_detect


@neuron_model
class HHCortical(NeuronModel):
    """Cortical pyramidal HH cell (Pospischil et al. 2008; Traub–Miles rates shifted by V_T),
    20 000 um^2 by default, optional slow M-current (gM = 0 switches it off).

    C dV/dt = gL(EL-V) + gNa m^3 h (ENa-V) + (gK n^4 + gM p)(EK-V) + I_ext, u = V - V_T:
    a_m = 0.32(13-u)/(exp((13-u)/4)-1), b_m = 0.28(u-40)/(exp((u-40)/5)-1),
    a_h = 0.128 exp((17-u)/18), b_h = 4/(1+exp((40-u)/5)),
    a_n = 0.032(15-u)/(exp((15-u)/5)-1), b_n = 0.5 exp((10-u)/40),
    p_inf = 1/(1+exp(-(V+35)/10)), tau_p = tau_max/(3.3 exp((V+35)/20) + exp(-(V+35)/20)).
    """

    name: ClassVar[str] = "hh_cortical"
    doc: ClassVar[str] = "cortical pyramidal Hodgkin–Huxley (Pospischil 2008, V_T shift, M-current)"
    STATE: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n", "p")
    has_reset: ClassVar[bool] = False
    v_detect: ClassVar[float] = -20.0
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("C", 0.2, 0.02, 2.0, "nF", False, "membrane capacitance", "positive", True),
        ParamSpec("gNa", 20.0, 2.0, 200.0, "uS", True, "maximal sodium conductance", "nonnegative", True),
        ParamSpec("gK", 6.0, 0.6, 60.0, "uS", True, "delayed-rectifier K conductance", "nonnegative", True),
        ParamSpec("gL", 0.01, 0.001, 0.1, "uS", True, "leak conductance", "nonnegative", True),
        ParamSpec("gM", 0.0, 0.0, 1.0, "uS", False, "slow M-type K conductance (0: off)", "nonnegative"),
        ParamSpec("ENa", 50.0, 20.0, 80.0, "mV", False, "sodium reversal potential"),
        ParamSpec("EK", -90.0, -110.0, -60.0, "mV", False, "potassium reversal potential"),
        ParamSpec("EL", -65.0, -90.0, -40.0, "mV", False, "leak reversal potential"),
        ParamSpec("VT", -63.0, -75.0, -40.0, "mV", False, "threshold shift of the Na/K kinetics"),
        ParamSpec("tau_max", 608.0, 50.0, 3000.0, "ms", False, "M-current maximal time constant", "positive"),
    )

    def rates(self, V):
        return traub_miles_rates(V - self.VT)

    def _m_current(self, V):
        p_inf = 1.0 / (1.0 + jnp.exp(-(V + 35.0) / 10.0))
        tau_p = self.tau_max / (3.3 * jnp.exp((V + 35.0) / 20.0) + jnp.exp(-(V + 35.0) / 20.0))
        return p_inf, tau_p

    def init_state(self, shape=(), dtype=None, V0=None):
        V0 = self.EL if V0 is None else V0
        V = jnp.broadcast_to(jnp.asarray(V0, dtype) + 0.0 * jnp.asarray(self.C, dtype), shape)
        state = {"V": V, **_steady_gates(self.rates, V)}
        state["p"] = self._m_current(V)[0]
        return state

    def vector_field(self, state, I_ext):
        V, m, h, n, p = (state[k] for k in self.STATE)
        I_ion = (self.gL * (V - self.EL) + self.gNa * m**3 * h * (V - self.ENa)
                 + (self.gK * n**4 + self.gM * p) * (V - self.EK))
        d = {"V": (I_ext - I_ion) / self.C}
        for g, (a, b) in self.rates(V).items():
            d[g] = a * (1.0 - state[g]) - b * state[g]
        p_inf, tau_p = self._m_current(V)
        d["p"] = (p_inf - p) / tau_p
        return d

    def spike_value(self, state):
        return state["V"] - self.v_detect
