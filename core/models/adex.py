"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005)."""

from __future__ import annotations

from typing import ClassVar

from core.lazy import jnp

from ..errors import ParameterError
from ..params import ParamSpec
from .base import NeuronModel, _blend, neuron_model

#: cap on (V - V_T)/Delta_T so that intermediate solver stages cannot overflow exp()
_EXP_CAP = 30.0


@neuron_model
class AdEx(NeuronModel):
    """C dV/dt = -gL (V-EL) + gL DeltaT exp((V-VT)/DeltaT) - w + I_ext;
    tau_w dw/dt = a (V-EL) - w;  on V >= V_peak: V <- V_reset, w <- w + b."""

    name: ClassVar[str] = "adex"
    doc: ClassVar[str] = "adaptive exponential integrate-and-fire"
    STATE: ClassVar[tuple[str, ...]] = ("V", "w")
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("C", 0.281, 0.02, 2.0, "nF", False, "membrane capacitance", "positive", True),
        ParamSpec("gL", 0.03, 0.003, 0.3, "uS", True, "leak conductance", "positive", True),
        ParamSpec("EL", -70.6, -90.0, -40.0, "mV", True, "leak reversal potential"),
        ParamSpec("VT", -50.4, -70.0, -30.0, "mV", True, "exponential threshold"),
        ParamSpec("DeltaT", 2.0, 0.2, 10.0, "mV", True, "slope factor", "positive", True),
        ParamSpec("a", 0.004, -0.05, 0.1, "uS", True, "subthreshold adaptation"),
        ParamSpec("tau_w", 144.0, 5.0, 1000.0, "ms", True, "adaptation time constant", "positive", True),
        ParamSpec("b", 0.0805, 0.0, 1.0, "nA", True, "spike-triggered adaptation", "nonnegative"),
        ParamSpec("V_reset", -70.6, -90.0, -30.0, "mV", False, "reset potential"),
        ParamSpec("V_peak", 0.0, -30.0, 40.0, "mV", False, "spike cut-off"),
    )

    def _validate_relations(self) -> None:
        if jnp.any(jnp.asarray(self.V_reset) >= jnp.asarray(self.V_peak)):
            raise ParameterError("adex.V_reset must lie below adex.V_peak")

    def init_state(self, shape=(), dtype=None):
        V = jnp.broadcast_to(jnp.asarray(self.EL, dtype), shape)
        return {"V": V, "w": jnp.zeros_like(V)}

    def vector_field(self, state, I_ext):
        # Past V_peak the spike is certain; evaluating the field at min(V, V_peak) keeps the
        # intermediate stages of multi-stage solvers finite and pointing upwards.
        V, w = jnp.minimum(state["V"], self.V_peak), state["w"]
        spike_current = self.gL * self.DeltaT * jnp.exp(
            jnp.minimum((V - self.VT) / self.DeltaT, _EXP_CAP))
        return {"V": (-self.gL * (V - self.EL) + spike_current - w + I_ext) / self.C,
                "w": (self.a * (V - self.EL) - w) / self.tau_w}

    def spike_value(self, state):
        return state["V"] - self.V_peak

    def reset(self, state, spike):
        return {"V": _blend(state["V"], self.V_reset, spike), "w": state["w"] + spike * self.b}
