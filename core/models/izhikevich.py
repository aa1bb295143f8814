"""Izhikevich neuron in its dimensional form (Izhikevich 2007, 'Dynamical Systems in Neuroscience')."""

from __future__ import annotations

from typing import ClassVar

from core.lazy import jnp

from ..errors import ParameterError
from ..params import ParamSpec
from .base import NeuronModel, _blend, neuron_model


@neuron_model
class Izhikevich(NeuronModel):
    """C dv/dt = k (v - v_r)(v - v_t) - u + I_ext;  du/dt = a (b (v - v_r) - u);
    on v >= v_peak: v <- c, u <- u + d.  Defaults: regular-spiking pyramidal cell."""

    name: ClassVar[str] = "izhikevich"
    doc: ClassVar[str] = "Izhikevich quadratic integrate-and-fire with recovery variable"
    STATE: ClassVar[tuple[str, ...]] = ("V", "u")
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("C", 0.1, 0.01, 1.0, "nF", False, "membrane capacitance", "positive", True),
        ParamSpec("k", 0.0007, 0.0001, 0.005, "uS/mV", True, "quadratic gain", "positive", True),
        ParamSpec("v_r", -60.0, -90.0, -40.0, "mV", True, "resting potential"),
        ParamSpec("v_t", -40.0, -70.0, -20.0, "mV", True, "instantaneous threshold"),
        ParamSpec("v_peak", 35.0, 0.0, 60.0, "mV", False, "spike cut-off"),
        ParamSpec("a", 0.03, 0.001, 1.0, "1/ms", True, "recovery rate", "positive", True),
        ParamSpec("b", -0.002, -0.02, 0.02, "uS", True, "recovery sensitivity"),
        ParamSpec("c", -50.0, -80.0, -30.0, "mV", True, "reset potential"),
        ParamSpec("d", 0.1, 0.0, 1.0, "nA", True, "spike-triggered recovery increment", "nonnegative"),
    )

    def _validate_relations(self) -> None:
        if jnp.any(jnp.asarray(self.c) >= jnp.asarray(self.v_peak)):
            raise ParameterError("izhikevich.c (reset) must lie below izhikevich.v_peak")

    def init_state(self, shape=(), dtype=None):
        V = jnp.broadcast_to(jnp.asarray(self.v_r, dtype), shape)
        return {"V": V, "u": jnp.zeros_like(V)}

    def vector_field(self, state, I_ext):
        V, u = state["V"], state["u"]
        return {"V": (self.k * (V - self.v_r) * (V - self.v_t) - u + I_ext) / self.C,
                "u": self.a * (self.b * (V - self.v_r) - u)}

    def spike_value(self, state):
        return state["V"] - self.v_peak

    def reset(self, state, spike):
        return {"V": _blend(state["V"], self.c, spike), "u": state["u"] + spike * self.d}
