"""Fixed-step solvers with a declared order of accuracy.

Each solver is a pure ``step(model, state, I_ext, dt) -> state``; the stimulus is held constant
over the step (sample-and-hold, as a digitised command waveform is).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from core.lazy import jax, jnp

SOLVERS: dict[str, type[Solver]] = {}


def _register(cls):
    cls = dataclass(frozen=True)(cls)
    SOLVERS[cls.name] = cls
    return cls


def get_solver(name: str | Solver) -> Solver:
    if isinstance(name, Solver):
        return name
    try:
        return SOLVERS[name]()
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; known: {', '.join(sorted(SOLVERS))}") from None


def _axpy(a, x, y):
    """y + a * x over state dicts."""
    return jax.tree_util.tree_map(lambda xi, yi: yi + a * xi, x, y)


class Solver(abc.ABC):
    name: ClassVar[str]
    doc: ClassVar[str]
    order: ClassVar[int]

    @abc.abstractmethod
    def step(self, model, state, I_ext, dt):
        """Advance ``state`` by ``dt`` (ms) under constant ``I_ext`` (nA)."""


@_register
class Euler(Solver):
    name: ClassVar[str] = "euler"
    doc: ClassVar[str] = "forward Euler (order 1)"
    order: ClassVar[int] = 1

    def step(self, model, state, I_ext, dt):
        return _axpy(dt, model.vector_field(state, I_ext), state)


@_register
class RK4(Solver):
    name: ClassVar[str] = "rk4"
    doc: ClassVar[str] = "classic fourth-order Runge–Kutta (order 4)"
    order: ClassVar[int] = 4

    def step(self, model, state, I_ext, dt):
        f = model.vector_field
        k1 = f(state, I_ext)
        k2 = f(_axpy(dt / 2, k1, state), I_ext)
        k3 = f(_axpy(dt / 2, k2, state), I_ext)
        k4 = f(_axpy(dt, k3, state), I_ext)
        return jax.tree_util.tree_map(
            lambda x, a, b, c, d: x + dt / 6 * (a + 2 * b + 2 * c + d), state, k1, k2, k3, k4)


def _phi1(z):
    """(exp(z) - 1) / z, equal to 1 + z/2 near 0 (safe for gradients)."""
    small = jnp.abs(z) < 1e-6
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2, jnp.expm1(z_safe) / z_safe)


@_register
class ExponentialEuler(Solver):
    """x <- x + dt * phi1(J dt) * f(x), J the diagonal of the Jacobian of f.

    For equations linear in their own variable (gating variables, a membrane with fixed
    conductances) this is the exact exponential update x_inf + (x - x_inf) exp(-dt/tau) used by
    Brian2's and NEURON's exponential Euler; order 1 overall. J*dt is capped at 20: beyond that
    the variable explodes within one step anyway (a spike upstroke) and exp() would overflow."""

    name: ClassVar[str] = "exp_euler"
    doc: ClassVar[str] = "exponential Euler with the diagonal Jacobian (order 1)"
    order: ClassVar[int] = 1

    def step(self, model, state, I_ext, dt):
        f = model.vector_field(state, I_ext)
        new = {}
        for key, x in state.items():
            def f_key(xk, key=key):
                return model.vector_field({**state, key: xk}, I_ext)[key]

            _, jac_diag = jax.jvp(f_key, (x,), (jnp.ones_like(x),))
            new[key] = x + dt * _phi1(jnp.minimum(jac_diag * dt, 20.0)) * f[key]
        return new
