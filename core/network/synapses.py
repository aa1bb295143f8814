"""Synapse dynamics as small pure functions (units: ms, mV; conductances in the network's unit).

* exponential: ``g <- g exp(-dt/tau) + sum of weights of the spikes``; the current is
  ``g (E - V)`` (conductance-based) or ``g`` itself (current-based).
* dual exponential (rise ``tau_r``, decay ``tau_d``): two such traces, ``g = a (d - r)`` with the
  peak-normalising factor ``a``.
* first-order transmitter kinetics (Destexhe et al. 1994; Bazhenov et al. 2001, GABA_A and
  nicotinic ACh): ``do/dt = alpha (1 - o) T - beta o`` with the transmitter ``T`` either a pulse of
  amplitude A lasting ``t_max`` after each presynaptic spike (ACh) or a sigmoid of the
  presynaptic voltage ``1 / (1 + exp(-(V_pre - V0) / sigma))`` (GABA_A).
* Poisson input groups: independent Bernoulli(rate dt) spikes per step from a counter-based key,
  so chunked and unchunked runs draw the same spikes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def exp_decay_factor(dt: float, tau: float) -> float:
    return math.exp(-dt / tau)


def exponential_update(g, spikes_in, decay):
    """``g decay + spikes_in`` (``spikes_in``: summed weights of this step's spikes)."""
    return g * decay + spikes_in


def conductance_current(g, E, V):
    """Current (conductance units x mV) of a conductance ``g`` with reversal ``E``."""
    return g * (E - V)


def dual_exp_norm(tau_r: float, tau_d: float) -> float:
    """Factor making the peak of ``exp(-t/tau_d) - exp(-t/tau_r)`` equal to 1."""
    if tau_r == tau_d:
        raise ValueError("dual exponential needs tau_r != tau_d")
    t_peak = tau_r * tau_d / (tau_d - tau_r) * math.log(tau_d / tau_r)
    return 1.0 / (math.exp(-t_peak / tau_d) - math.exp(-t_peak / tau_r))


def dual_exponential_update(rise, decay_trace, spikes_in, dt: float, tau_r: float, tau_d: float):
    """Advance the two traces; returns ``(rise, decay, g)`` with ``g`` the normalised conductance."""
    rise = rise * math.exp(-dt / tau_r) + spikes_in
    decay_trace = decay_trace * math.exp(-dt / tau_d) + spikes_in
    return rise, decay_trace, dual_exp_norm(tau_r, tau_d) * (decay_trace - rise)


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


def poisson_spikes(key, step, rates_hz, dt: float, dtype=jnp.float32):
    """0/1 spikes of independent Poisson neurons at ``rates_hz`` for time step ``step``."""
    u = jax.random.uniform(jax.random.fold_in(key, step), jnp.shape(rates_hz))
    return (u < rates_hz * (dt / 1000.0)).astype(dtype)
