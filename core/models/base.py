"""The neuron-model abstraction.

A model is a frozen dataclass whose fields are its parameters (declared once, as
:class:`~core.params.ParamSpec` in ``PARAMS``) and which is registered as a JAX pytree, so a
model with array-valued fields is a whole population or a batch of parameter sets.

State is a dict ``{name: array}`` whose first entry is the membrane potential ``V`` (mV).
Pure methods: ``init_state``, ``vector_field``, ``spike_value``, ``reset``.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

from core.lazy import jax, jnp, register_dataclass_pytree

from ..params import ParamSpec

State = dict[str, Any]
MODELS: dict[str, type[NeuronModel]] = {}


def neuron_model(cls):
    """Class decorator: build dataclass fields from ``PARAMS``, register pytree and name."""
    names = [p.name for p in cls.PARAMS]
    cls.__annotations__ = {n: Any for n in names}
    for p in cls.PARAMS:
        setattr(cls, p.name, dataclasses.field(default=p.default))
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    register_dataclass_pytree(cls, data_fields=names, meta_fields=[])
    MODELS[cls.name] = cls
    return cls


def get_model(name: str, **params) -> NeuronModel:
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    return cls(**params)


class NeuronModel(abc.ABC):
    """Abstract neuron model. Units: ms, mV, nA, uS, nF, MOhm."""

    name: ClassVar[str]
    doc: ClassVar[str]
    PARAMS: ClassVar[tuple[ParamSpec, ...]]
    STATE: ClassVar[tuple[str, ...]]
    has_reset: ClassVar[bool] = True
    #: V above which (in |mV|) a simulation counts as diverged
    v_limit: ClassVar[float] = 1000.0

    # ---- parameters -------------------------------------------------------------------------
    @classmethod
    def specs(cls) -> dict[str, ParamSpec]:
        return {p.name: p for p in cls.PARAMS}

    def params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.PARAMS}

    def replace(self, **changes) -> NeuronModel:
        unknown = set(changes) - set(self.specs())
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def validate(self) -> NeuronModel:
        """Raise :class:`~core.errors.ParameterError` for physically invalid parameters."""
        for p in self.PARAMS:
            p.check(getattr(self, p.name), owner=self.name)
        self._validate_relations()
        return self

    def _validate_relations(self) -> None:
        """Checks between parameters (e.g. reset below threshold); override when needed."""

    def batch_shape(self) -> tuple[int, ...]:
        return jnp.broadcast_shapes(*(jnp.shape(v) for v in self.params().values()))

    def astype(self, dtype) -> NeuronModel:
        return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), self)

    # ---- dynamics ---------------------------------------------------------------------------
    @abc.abstractmethod
    def init_state(self, shape=(), dtype=None) -> State:
        """Resting state broadcast to ``shape``."""

    @abc.abstractmethod
    def vector_field(self, state: State, I_ext) -> State:
        """Time derivatives (per ms) of every state variable; ``I_ext`` in nA."""

    @abc.abstractmethod
    def spike_value(self, state: State):
        """Signed distance to the spike condition; a spike is ``spike_value >= 0``."""

    def reset(self, state: State, spike) -> State:
        """State after a spike; ``spike`` is 0/1 (float, carries the surrogate gradient)."""
        return state


def _blend(old, new, spike):
    """``new`` where spike == 1 else ``old``, written so the spike's gradient flows."""
    return old + spike * (new - old)


def full_like_state(shape, dtype, **values) -> State:
    return {k: jnp.full(shape, v, dtype=dtype) for k, v in values.items()}
