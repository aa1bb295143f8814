"""Leaky integrate-and-fire neuron with an absolute refractory period."""

from __future__ import annotations

from typing import ClassVar

from core.lazy import jnp

from ..errors import ParameterError
from ..params import ParamSpec
from .base import NeuronModel, _blend, neuron_model


@neuron_model
class LIF(NeuronModel):
    """tau_m dV/dt = -(V - V_rest) + R I_ext outside the refractory period (V clamped inside it);
    on V >= V_th: V <- V_reset and the refractory clock ``ref`` <- t_ref (ms)."""

    name: ClassVar[str] = "lif"
    doc: ClassVar[str] = "leaky integrate-and-fire with refractory period"
    STATE: ClassVar[tuple[str, ...]] = ("V", "ref")
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("tau_m", 20.0, 2.0, 100.0, "ms", True, "membrane time constant", "positive", True),
        ParamSpec("R", 100.0, 5.0, 1000.0, "MOhm", True, "input resistance", "positive", True),
        ParamSpec("V_rest", -70.0, -90.0, -40.0, "mV", True, "resting potential"),
        ParamSpec("V_reset", -70.0, -90.0, -40.0, "mV", False, "reset potential"),
        ParamSpec("V_th", -50.0, -70.0, -20.0, "mV", True, "spike threshold"),
        ParamSpec("t_ref", 2.0, 0.0, 10.0, "ms", False, "absolute refractory period", "nonnegative"),
    )

    def _validate_relations(self) -> None:
        if jnp.any(jnp.asarray(self.V_reset) >= jnp.asarray(self.V_th)):
            raise ParameterError("lif.V_reset must lie below lif.V_th")

    def init_state(self, shape=(), dtype=None):
        V = jnp.broadcast_to(jnp.asarray(self.V_rest, dtype), shape)
        return {"V": V, "ref": jnp.zeros_like(V)}

    def vector_field(self, state, I_ext):
        active = state["ref"] <= 0
        dV = (-(state["V"] - self.V_rest) + self.R * I_ext) / self.tau_m
        return {"V": jnp.where(active, dV, 0.0 * dV),
                "ref": jnp.where(active, 0.0, -1.0) + 0.0 * dV}

    def spike_value(self, state):
        return state["V"] - self.V_th

    def reset(self, state, spike):
        return {"V": _blend(state["V"], self.V_reset, spike),
                "ref": _blend(jnp.maximum(state["ref"], 0.0), self.t_ref, spike)}
