"""Generalised integrate-and-fire neuron with two spike-triggered currents (seed paper, App. F.3)."""

from __future__ import annotations

from typing import ClassVar

from core.lazy import jnp

from ..errors import ParameterError
from ..params import ParamSpec
from .base import NeuronModel, _blend, neuron_model


@neuron_model
class GIF(NeuronModel):
    """tau_I1 dI1/dt = -I1;  tau_I2 dI2/dt = -I2;  tau_th dtheta/dt = -theta;
    tau_V dV/dt = -V + V_rest + R (I1 + I2 + I_ext)   (held at V_reset for t_ref after a spike);
    on V >= V_th + theta: I1 <- A1, I2 <- I2 + A2, theta <- theta + A_th, V <- V_reset.

    The moving threshold (A_th, tau_th) and the refractory period t_ref are those of Pozzorini
    et al. (2015)'s GIF; with their defaults (A_th = 0, t_ref = 0) the model is the seed paper's."""

    name: ClassVar[str] = "gif"
    doc: ClassVar[str] = "generalised integrate-and-fire with two spike-triggered currents"
    STATE: ClassVar[tuple[str, ...]] = ("V", "I1", "I2", "theta", "ref")
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("tau_V", 20.0, 2.0, 200.0, "ms", False, "membrane time constant", "positive", True),
        ParamSpec("R", 20.0, 2.0, 500.0, "MOhm", False, "input resistance", "positive", True),
        ParamSpec("V_rest", -70.0, -90.0, -40.0, "mV", False, "resting potential"),
        ParamSpec("V_reset", -70.0, -90.0, -40.0, "mV", False, "reset potential"),
        ParamSpec("V_th", -50.0, -70.0, -20.0, "mV", False, "spike threshold"),
        ParamSpec("A1", 0.3, -3.0, 3.0, "nA", True, "spike-triggered current 1: set to A1"),
        ParamSpec("A2", -0.1, -3.0, 3.0, "nA", True, "spike-triggered current 2: incremented by A2"),
        ParamSpec("tau_I1", 5.0, 0.5, 50.0, "ms", True, "decay of I1", "positive", True),
        ParamSpec("tau_I2", 100.0, 10.0, 1000.0, "ms", True, "decay of I2", "positive", True),
        ParamSpec("A_th", 0.0, -5.0, 20.0, "mV", False, "spike-triggered threshold jump"),
        ParamSpec("tau_th", 50.0, 2.0, 1000.0, "ms", False, "decay of the threshold jump",
                  "positive", True),
        ParamSpec("t_ref", 0.0, 0.0, 20.0, "ms", False, "refractory period (V held at reset)"),
    )

    def _validate_relations(self) -> None:
        if jnp.any(jnp.asarray(self.V_reset) >= jnp.asarray(self.V_th)):
            raise ParameterError("gif.V_reset must lie below gif.V_th")

    def init_state(self, shape=(), dtype=None):
        V = jnp.broadcast_to(jnp.asarray(self.V_rest, dtype), shape)
        zero = jnp.zeros_like(V)
        return {"V": V, "I1": zero, "I2": zero, "theta": zero, "ref": zero}

    def vector_field(self, state, I_ext):
        I1, I2 = state["I1"], state["I2"]
        # refractory: the membrane is clamped (dV/dt = 0) while the countdown ``ref`` runs
        free = (state["ref"] <= 0).astype(state["V"].dtype)
        return {"V": free * (-state["V"] + self.V_rest + self.R * (I1 + I2 + I_ext)) / self.tau_V,
                "I1": -I1 / self.tau_I1,
                "I2": -I2 / self.tau_I2,
                "theta": -state["theta"] / self.tau_th,
                "ref": -(1.0 - free)}

    def spike_value(self, state):
        # a spike cannot start while refractory (V is clamped below threshold then anyway)
        return jnp.where(state["ref"] > 0, -1.0, state["V"] - self.V_th - state["theta"])

    def reset(self, state, spike):
        return {"V": _blend(state["V"], self.V_reset, spike),
                "I1": _blend(state["I1"], self.A1, spike),
                "I2": state["I2"] + spike * self.A2,
                "theta": state["theta"] + spike * self.A_th,
                "ref": _blend(state["ref"], self.t_ref, spike)}
