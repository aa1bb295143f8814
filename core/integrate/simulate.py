"""Run any neuron model over a stimulus with ``lax.scan``, in chunks for long stimuli.

Errors are values inside compiled code: every simulation returns a per-neuron status
(OK / NAN / DIVERGED); :meth:`SimulationResult.raise_for_status` turns it into a
:class:`~core.errors.DivergenceError` outside ``jit``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.lazy import jax, jit, jnp

from ..errors import DivergenceError, JobCancelled, ParameterError
from ..surrogate import Surrogate, get_surrogate, heaviside
from .solvers import Solver, get_solver


class Status(enum.IntEnum):
    OK = 0
    DIVERGED = 1
    NAN = 2


@dataclass(frozen=True)
class SimulationResult:
    """Voltage (T, *batch) in mV, spikes (T, *batch) as 0/1, status per neuron, final state."""

    V: Any
    spikes: Any
    status: Any
    final_state: dict
    dt: float

    @property
    def t(self) -> np.ndarray:
        return np.arange(np.shape(self.V)[0]) * self.dt

    @property
    def ok(self) -> bool:
        return bool(np.all(np.asarray(self.status) == Status.OK))

    def spike_counts(self) -> np.ndarray:
        return np.asarray(self.spikes).sum(axis=0)

    def raise_for_status(self, what: str = "simulation") -> SimulationResult:
        status = np.asarray(self.status)
        if np.any(status == Status.NAN):
            n = int(np.sum(status == Status.NAN))
            raise DivergenceError(f"{what} produced NaN/inf in {n} of {status.size} neuron(s); "
                                  "reduce dt or check the parameters")
        if np.any(status == Status.DIVERGED):
            n = int(np.sum(status == Status.DIVERGED))
            raise DivergenceError(f"{what} diverged (|V| beyond the physiological range) in {n} of "
                                  f"{status.size} neuron(s); reduce dt or check the parameters")
        return self


def _step_fn(model, solver: Solver, surrogate: Surrogate, dt, detach_reset: bool):
    def step(state, I_t):
        prev_value = model.spike_value(state)
        new = solver.step(model, state, I_t, dt)
        value = model.spike_value(new)
        if model.has_reset:
            spike = surrogate(value)
            new = model.reset(new, jax.lax.stop_gradient(spike) if detach_reset else spike)
        else:  # models without reset (HH): a spike is an upward crossing of the detection level
            spike = surrogate(value) * (1.0 - heaviside(jax.lax.stop_gradient(prev_value)))
        return new, (new["V"], spike)

    return step


def _status_of(V, v_limit):
    nan = jnp.any(~jnp.isfinite(V), axis=0)
    big = jnp.any(jnp.abs(V) > v_limit, axis=0)
    return jnp.where(nan, Status.NAN, jnp.where(big, Status.DIVERGED, Status.OK)).astype(jnp.int8)


def simulate_arrays(model, stimulus, dt, state, *, solver: Solver, surrogate: Surrogate,
                    detach_reset: bool = False, unroll: int = 1, n_valid=None):
    """Pure, jittable core: returns (V, spikes, status, final_state). ``stimulus`` is (T, *batch).

    With ``n_valid`` given, steps from ``n_valid`` on leave the state unchanged (a padded chunk)."""
    step = _step_fn(model, solver, surrogate, dt, detach_reset)
    if n_valid is None:
        final, (V, spikes) = jax.lax.scan(step, state, stimulus, unroll=unroll)
        return V, spikes, _status_of(V, model.v_limit), final

    def masked(carry, I_t):
        state, k = carry
        new, (V, spike) = step(state, I_t)
        keep = k < n_valid
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, state)
        return (new, k + 1), (V, spike * keep)

    (final, _), (V, spikes) = jax.lax.scan(masked, (state, 0), stimulus, unroll=unroll)
    valid = (jnp.arange(V.shape[0]) < n_valid).reshape((-1,) + (1,) * (V.ndim - 1))
    return V, spikes, _status_of(jnp.where(valid, V, 0.0), model.v_limit), final


@jit(static_argnames=("solver", "surrogate", "detach_reset", "unroll", "masked"))
def _simulate_chunk(model, stimulus, dt, state, n_valid, solver, surrogate, detach_reset, unroll,
                    masked):
    return simulate_arrays(model, stimulus, dt, state, solver=solver, surrogate=surrogate,
                           detach_reset=detach_reset, unroll=unroll,
                           n_valid=n_valid if masked else None)


def simulate(model, stimulus, dt: float, *, solver: str | Solver = "exp_euler",
             surrogate: str | Surrogate = "sigmoid", state=None, chunk_size: int | None = None,
             unroll: int = 1, detach_reset: bool = False, validate: bool = True,
             on_chunk: Callable[[int, int], None] | None = None,
             is_cancelled: Callable[[], bool] | None = None, dtype=None) -> SimulationResult:
    """Simulate ``model`` driven by ``stimulus`` (nA), shape (T,) or (T, *batch), with step ``dt`` (ms).

    Model parameters may be arrays broadcasting against the batch shape (a population, or many
    parameter sets). Long stimuli run in chunks of ``chunk_size`` steps, each a compiled
    ``lax.scan`` (one compile: the last chunk is padded); between chunks ``on_chunk(done, total)``
    is called and ``is_cancelled()`` polled. The result equals an unchunked run exactly.
    """
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ParameterError(f"time step dt must be a positive number of ms, got {dt!r}")
    if validate:
        model.validate()
    solver = get_solver(solver)
    if isinstance(surrogate, str):
        surrogate = get_surrogate(surrogate)
    stimulus = jnp.asarray(stimulus, dtype=dtype)
    if stimulus.ndim == 0 or stimulus.shape[0] == 0:
        raise ParameterError("stimulus must have at least one time step")
    if not bool(jnp.all(jnp.isfinite(stimulus))):
        raise ParameterError("stimulus contains NaN or inf")
    dtype = stimulus.dtype
    model = model.astype(dtype)
    batch = jnp.broadcast_shapes(stimulus.shape[1:], model.batch_shape())
    stimulus = stimulus.reshape(stimulus.shape + (1,) * (len(batch) + 1 - stimulus.ndim))
    stimulus = jnp.broadcast_to(stimulus, (stimulus.shape[0],) + batch)
    if state is None:
        state = model.init_state(batch, dtype)
    n_steps = stimulus.shape[0]
    chunk = n_steps if not chunk_size else min(int(chunk_size), n_steps)
    n_chunks = -(-n_steps // chunk)
    pad = n_chunks * chunk - n_steps
    if pad:
        stimulus = jnp.concatenate([stimulus, jnp.zeros((pad,) + batch, dtype)])
    Vs, spikes, statuses = [], [], []
    for i in range(n_chunks):
        if is_cancelled is not None and is_cancelled():
            raise JobCancelled("simulation cancelled")
        n_valid = min(chunk, n_steps - i * chunk)
        V, S, status, state = _simulate_chunk(
            model, stimulus[i * chunk:(i + 1) * chunk], dt, state, n_valid, solver, surrogate,
            detach_reset, unroll, n_chunks > 1)
        Vs.append(V[:n_valid])
        spikes.append(S[:n_valid])
        statuses.append(status)
        if on_chunk is not None:
            on_chunk(i * chunk + n_valid, n_steps)
    V = jnp.concatenate(Vs) if len(Vs) > 1 else Vs[0]
    S = jnp.concatenate(spikes) if len(spikes) > 1 else spikes[0]
    status = jnp.max(jnp.stack(statuses), axis=0)
    return SimulationResult(V=V, spikes=S, status=status, final_state=state, dt=float(dt))
