"""Surrogate-gradient spike functions.

Every surrogate is exactly the Heaviside step forward (``H(x) = 1`` for ``x >= 0`` else ``0``)
and uses a smooth pseudo-derivative ``g(x)`` backward (``jax.custom_jvp``). ``x`` is the distance
to threshold (for scaled models ``V - V_th``). Shape parameters are dataclass fields.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, fields
from typing import ClassVar

import jax
import jax.numpy as jnp

SURROGATES: dict[str, type[Surrogate]] = {}


def register_surrogate(cls):
    """Make ``cls`` a frozen dataclass (hashable by value: usable as a jit static argument)."""
    cls = dataclass(frozen=True)(cls)
    SURROGATES[cls.name] = cls
    return cls


def heaviside(x):
    return jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x))


class Surrogate(abc.ABC):
    """Heaviside forward, ``grad(x)`` backward. Subclasses set ``name``, ``doc`` and ``grad``."""

    name: ClassVar[str]
    doc: ClassVar[str]

    @abc.abstractmethod
    def grad(self, x):
        """The surrogate derivative dH/dx used in the backward pass."""

    def __call__(self, x):
        return _spike(self, x)

    def params(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _spike(surrogate: Surrogate, x):
    @jax.custom_jvp
    def f(x):
        return heaviside(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        return heaviside(x), surrogate.grad(x) * dx

    return f(x)


def get_surrogate(name: str, **params) -> Surrogate:
    """Look a surrogate up by registry name and build it with its shape parameters."""
    try:
        cls = SURROGATES[name]
    except KeyError:
        known = ", ".join(sorted(SURROGATES))
        raise ValueError(f"unknown surrogate {name!r}; known: {known}") from None
    return cls(**params)


@register_surrogate
class Sigmoid(Surrogate):
    """g(x) = alpha * s(alpha x) * (1 - s(alpha x)), s the logistic function."""

    name: ClassVar[str] = "sigmoid"
    doc: ClassVar[str] = "derivative of the logistic function (Zenke & Ganguli 2018 style)"
    alpha: float = 4.0

    def grad(self, x):
        s = jax.nn.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)
