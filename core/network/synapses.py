"""First-order transmitter kinetics (Destexhe et al. 1994; Bazhenov et al. 2001: GABA_A and
nicotinic ACh) as small pure functions (ms, mV): ``do/dt = alpha (1 - o) T - beta o`` with the
transmitter ``T`` either a pulse of amplitude A lasting ``t_max`` after each presynaptic spike
(ACh) or a sigmoid of the presynaptic voltage ``1 / (1 + exp(-(V_pre - V0) / sigma))`` (GABA_A).

The exponential conductances of the COBA and EI networks live with their kernels
(:mod:`.templates.coba`, :mod:`core.training.ei_network`); Poisson inputs are drawn by the
evidence task (:mod:`core.tasks.evidence_accumulation`) and the EI template.
"""

from __future__ import annotations

from core.lazy import jax, jnp


def transmitter_pulse(t_since_spike, amplitude: float = 0.5, t_max: float = 0.3,
                      delay: float = 0.0):
    """ACh-style transmitter: ``amplitude`` while ``delay <= t - t_spike < delay + t_max``."""
    on = (t_since_spike >= delay) & (t_since_spike < delay + t_max)
    return jnp.where(on, amplitude, 0.0)


def transmitter_sigmoid(V_pre, V0: float = -20.0, sigma: float = 1.5):
    """GABA_A-style graded transmitter: ``1 / (1 + exp(-(V_pre - V0) / sigma))``."""
    return jax.nn.sigmoid((V_pre - V0) / sigma)


def first_order_kinetics(o, T, alpha: float, beta: float):
    """``do/dt`` of the open fraction ``o`` for transmitter concentration ``T``."""
    return alpha * (1.0 - o) * T - beta * o
