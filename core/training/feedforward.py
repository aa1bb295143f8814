"""Feed-forward spiking stacks run layer-first or step-first, with identical spikes and gradients.

A :class:`FeedForwardSNN` is a stack of dense layers of discrete-time LIF neurons and a readout.
Each layer ``l`` integrates, per time step ``t`` (dimensionless membrane, threshold ``theta``)::

    I[t]  = h[t] @ W + b  (+ s[t-1] @ V  for a recurrent layer)
    V'    = beta * V[t-1] + I[t]                 (held at V[t-1] while refractory)
    s[t]  = H(V' - theta)                        (surrogate derivative backward)
    V[t]  = V' - theta * s[t]   (reset "subtract")   or   V' * (1 - s[t])   (reset "zero")

with ``beta = exp(-dt / tau_m)`` and ``h[t]`` the previous layer's spikes (the input at layer 0).
After a spike a neuron ignores its input for ``refractory`` steps. The readout is either a
non-spiking leaky integrator ``U[t] = beta_out U[t-1] + s_L[t] @ W + b`` whose time average is the
logits (``"leaky"``), or the spike counts of a last LIF layer (``"count"``).

Two execution orders compute the same function:

* ``step_first`` -- one ``lax.scan`` over time; every step advances every layer (what SNN
  toolboxes do; gradients by JAX autodiff through the scan).
* ``layer_first`` -- each layer over its whole time window before the next: the input projection
  of all ``T`` steps is one ``(T*B, n_in) @ (n_in, n)`` product, then one scan of the elementwise
  membrane update (:func:`~core.training.feedforward_lif.lif_scan`, a custom VJP whose backward pass is one elementwise reverse
  scan), and the linear readout is contracted over time *before* its matrix product
  (``sum_t c_t s[t] @ W``), which removes a factor ``T`` of its work. ``time_chunk`` runs the
  same in blocks of that many steps (states carried between blocks), which keeps the per-layer
  arrays in cache for long windows.

Both orders share one step function, so spikes agree exactly when the input currents do. In
float64 they do; in float32 one ``(T*B) x n`` product and ``T`` products of ``B x n`` may round the
same sum differently in the last bit, so a membrane that lands within one ulp of threshold can
spike in one order and not the other (the benchmark counts such flips; tests use shapes where
none occur). A recurrent layer cannot run layer-first -- its input at ``t`` depends on its own
output at ``t - 1`` -- so in ``layer_first`` mode it runs step-first within its layer
(:meth:`FeedForwardSNN.plan` says so, and a :class:`LayerFirstRefused` warning is issued).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core.lazy import jax, jnp, lax

from ..errors import ParameterError
from ..surrogate import Surrogate, get_surrogate
from .feedforward_lif import (
    AUTO_BLOCK_ELEMENTS,
    auto_time_chunk,
    lif_scan,
    lif_step,
    readout_weights,
)

Array = Any
Params = dict[str, Any]

MODES = ("layer_first", "step_first")
RESETS = ("subtract", "zero")
READOUTS = ("leaky", "count")

__all__ = [
    "AUTO_BLOCK_ELEMENTS", "FeedForwardSNN", "LIFLayer", "LayerFirstRefused", "MODES",
    "auto_time_chunk", "lif_scan", "lif_step", "readout_weights",
]


class LayerFirstRefused(UserWarning):
    """A recurrent layer was asked to run layer-first; it runs step-first instead."""


@dataclass(frozen=True)
class LIFLayer:
    """One layer of ``n`` LIF neurons (static configuration; hashable).

    ``tau_m`` membrane time constant (ms), ``threshold`` (dimensionless), ``reset`` "subtract" or
    "zero", ``refractory`` steps of absolute refractoriness, ``recurrent`` adds an ``n x n``
    weight matrix from the layer's own spikes at ``t - 1``. ``detach_reset`` stops the gradient
    through the reset term (a common choice; off by default).
    """

    n: int
    tau_m: float = 10.0
    threshold: float = 1.0
    reset: str = "subtract"
    refractory: int = 0
    recurrent: bool = False
    detach_reset: bool = False

    def __post_init__(self):
        if int(self.n) < 1:
            raise ParameterError(f"a layer needs at least one neuron, got n={self.n}")
        if not (self.tau_m > 0 and math.isfinite(self.tau_m)):
            raise ParameterError(f"tau_m must be a positive number of ms, got {self.tau_m}")
        if not (self.threshold > 0 and math.isfinite(self.threshold)):
            raise ParameterError(f"threshold must be positive, got {self.threshold}")
        if self.reset not in RESETS:
            raise ParameterError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if int(self.refractory) < 0:
            raise ParameterError(f"refractory must be >= 0 steps, got {self.refractory}")

    def beta(self, dt: float) -> float:
        return math.exp(-dt / self.tau_m)


# ---- the network -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedForwardSNN:
    """A stack of LIF layers and a readout (static configuration; parameters are separate).

    ``n_in`` inputs, ``layers`` hidden :class:`LIFLayer` s, ``n_out`` classes. ``readout``:
    "leaky" (a non-spiking integrator with ``tau_out``; logits = its time average) or "count"
    (a last LIF layer of ``n_out`` neurons built from ``out_layer``; logits = spike counts).
    ``surrogate`` is any registered surrogate (name or instance), ``dt`` in ms, ``dtype`` the
    compute dtype. ``weight_gain`` scales the initial weights (``N(0, gain^2 / n_in)``).
    """

    n_in: int
    layers: tuple[LIFLayer, ...]
    n_out: int
    readout: str = "leaky"
    surrogate: Any = "sigmoid"
    dt: float = 1.0
    tau_out: float = 20.0
    out_layer: LIFLayer | None = None
    dtype: str = "float32"
    weight_gain: float = 3.0
    input_gain: float = field(default=1.0)

    def __post_init__(self):
        if int(self.n_in) < 1 or int(self.n_out) < 1:
            raise ParameterError(f"n_in and n_out must be >= 1, got {self.n_in}, {self.n_out}")
        if self.readout not in READOUTS:
            raise ParameterError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if isinstance(self.surrogate, str):
            try:
                object.__setattr__(self, "surrogate", get_surrogate(self.surrogate))
            except ValueError as exc:
                raise ParameterError(str(exc)) from None
        if not isinstance(self.surrogate, Surrogate):
            raise ParameterError(f"surrogate must be a name or a Surrogate, not {self.surrogate!r}")
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.readout == "count" and self.out_layer is None:
            object.__setattr__(self, "out_layer", LIFLayer(self.n_out))
        if self.out_layer is not None and self.out_layer.n != self.n_out:
            object.__setattr__(self, "out_layer", replace(self.out_layer, n=self.n_out))
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if not (self.dt > 0 and self.tau_out > 0):
            raise ParameterError("dt and tau_out must be positive")

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_arch(cls, arch: str | tuple[int, ...], **kwargs) -> FeedForwardSNN:
        """``"64-256-256-10"``: 64 inputs, hidden layers of 256 and 256, 10 outputs. Layer
        keywords (``tau_m``, ``threshold``, ``reset``, ``refractory``, ``recurrent``,
        ``detach_reset``) apply to every hidden layer; the rest go to the network."""
        if isinstance(arch, str):
            try:
                sizes = tuple(int(s) for s in arch.replace(",", "-").split("-") if s.strip())
            except ValueError:
                raise ParameterError(f"arch must look like 64-256-10, got {arch!r}") from None
        else:
            sizes = tuple(int(s) for s in arch)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ParameterError(f"arch needs at least an input and an output size >= 1: {arch!r}")
        layer_keys = {"tau_m", "threshold", "reset", "refractory", "recurrent", "detach_reset"}
        layer_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in layer_keys}
        hidden = sizes[1:-1]
        layers = tuple(LIFLayer(n, **layer_kw) for n in hidden)
        if kwargs.get("readout") == "count" and "out_layer" not in kwargs:
            kw = {k: v for k, v in layer_kw.items() if k != "recurrent"}
            kwargs["out_layer"] = LIFLayer(sizes[-1], **kw)
        return cls(sizes[0], layers, sizes[-1], **kwargs)

    @property
    def arch(self) -> str:
        return "-".join(str(n) for n in (self.n_in, *(lyr.n for lyr in self.layers), self.n_out))

    @property
    def spiking_layers(self) -> tuple[LIFLayer, ...]:
        return self.layers + ((self.out_layer,) if self.readout == "count" else ())

    @property
    def np_dtype(self):
        return np.dtype(self.dtype)

    def init(self, key) -> list[Params]:
        """Initial parameters: one dict per spiking layer (``W`` (n_in, n), ``b`` (n,), ``V``
        (n, n) for recurrent layers) and, for the leaky readout, a last ``{"W", "b"}``."""
        dt = self.np_dtype
        sizes_in = (self.n_in, *(lyr.n for lyr in self.spiking_layers))
        params = []
        keys = jax.random.split(jnp.asarray(key) if not isinstance(key, int)
                                else jax.random.PRNGKey(key), 2 * len(sizes_in) + 1)
        for i, lyr in enumerate(self.spiking_layers):
            n_in = sizes_in[i]
            gain = self.weight_gain * (self.input_gain if i == 0 else 1.0)
            p = {"W": gain / math.sqrt(n_in) * jax.random.normal(keys[2 * i], (n_in, lyr.n), dt),
                 "b": jnp.zeros((lyr.n,), dt)}
            if lyr.recurrent:
                p["V"] = 0.5 / math.sqrt(lyr.n) * jax.random.normal(keys[2 * i + 1],
                                                                    (lyr.n, lyr.n), dt)
            params.append(p)
        if self.readout == "leaky":
            n_last = sizes_in[-1]
            params.append({"W": 1.0 / math.sqrt(n_last)
                           * jax.random.normal(keys[-1], (n_last, self.n_out), dt),
                           "b": jnp.zeros((self.n_out,), dt)})
        return params

    # ---- planning and checks -----------------------------------------------------------------
    def plan(self, mode: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Per spiking layer, the order it runs in for ``mode``, and the notes explaining any
        refusal (a recurrent layer refuses ``layer_first``)."""
        if mode not in MODES:
            raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")
        modes, notes = [], []
        for i, lyr in enumerate(self.spiking_layers):
            if mode == "layer_first" and lyr.recurrent:
                modes.append("step_first")
                notes.append(
                    f"layer {i} is recurrent and cannot run layer_first: its input at step t "
                    f"depends on its own output at step t-1, so its window cannot be computed "
                    f"before its own spikes exist; it runs step_first")
            else:
                modes.append(mode)
        return tuple(modes), tuple(notes)

    def check_input(self, x) -> Array:
        """``x`` must be (T, batch, n_in) with T >= 1 and finite values (checked when concrete)."""
        shape = tuple(np.shape(x))
        if len(shape) != 3 or shape[-1] != self.n_in:
            raise ParameterError(f"input must have shape (T, batch, {self.n_in}) (time-major), "
                                 f"not {shape}")
        if shape[0] < 1:
            raise ParameterError("input has T = 0 time steps; need at least one")
        if shape[1] < 1:
            raise ParameterError("input has an empty batch")
        if not isinstance(x, jax.core.Tracer):
            arr = np.asarray(x)
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                raise ParameterError("input contains NaN or infinite values")
        return x

    # ---- execution ---------------------------------------------------------------------------
    def apply(self, params: list[Params], x, *, mode: str = "layer_first",
              time_chunk: int | None = None, return_spikes: bool = False):
        """Logits (batch, n_out) for input ``x`` (T, batch, n_in) (spikes or currents).

        ``mode`` "layer_first" or "step_first"; ``time_chunk`` (layer_first only) runs the window
        in blocks of that many steps ("auto": :func:`auto_time_chunk` of the widest layer). ``return_spikes=True`` also returns the list of every
        spiking layer's spikes, each (T, batch, n).
        """
        self.check_input(x)
        modes, notes = self.plan(mode)
        for note in notes:
            warnings.warn(note, LayerFirstRefused, stacklevel=2)
        x = jnp.asarray(x).astype(self.dtype)
        if mode == "step_first":
            logits, spikes = self._step_first(params, x)
        else:
            T = x.shape[0]
            if time_chunk == "auto":
                widths = [self.n_in, *(lyr.n for lyr in self.spiking_layers)]
                chunk = auto_time_chunk(T, x.shape[1], max(widths))
            else:
                chunk = T if time_chunk is None else max(1, min(int(time_chunk), T))
            logits, spikes = self._layer_first(params, x, modes, chunk)
        return (logits, spikes) if return_spikes else logits

    def _init_states(self, batch, dtype):
        return [(jnp.zeros((batch, lyr.n), dtype), jnp.zeros((batch, lyr.n), jnp.int32),
                 jnp.zeros((batch, lyr.n), dtype)) for lyr in self.spiking_layers]

    def _betas(self):
        return [lyr.beta(self.dt) for lyr in self.spiking_layers]

    def _step_first(self, params, x):
        T, B, _ = x.shape
        dtype = x.dtype
        betas = self._betas()
        sur = self.surrogate
        n_sp = len(self.spiking_layers)
        beta_o = jnp.asarray(math.exp(-self.dt / self.tau_out), dtype)

        def step(carry, x_t):
            states, U, acc = carry
            h, new_states, outs = x_t, [], []
            for lyr, beta, p, (V, r, s_prev) in zip(self.spiking_layers, betas, params, states):
                I = h @ p["W"] + p["b"]
                if lyr.recurrent:
                    I = I + s_prev @ p["V"]
                V, r, s = lif_step(lyr, beta, sur, V, r, I)
                new_states.append((V, r, s))
                outs.append(s)
                h = s
            if self.readout == "leaky":
                p = params[n_sp]
                U = beta_o * U + (h @ p["W"] + p["b"])
                acc = acc + U
            else:
                acc = acc + h
            return (new_states, U, acc), outs

        init = (self._init_states(B, dtype), jnp.zeros((B, self.n_out), dtype),
                jnp.zeros((B, self.n_out), dtype))
        (_, _, acc), spikes = lax.scan(step, init, x)
        logits = acc / T if self.readout == "leaky" else acc
        return logits, list(spikes)

    def _layer_first(self, params, x, modes, chunk):
        T, B, _ = x.shape
        dtype = x.dtype
        n_sp = len(self.spiking_layers)
        betas = self._betas()
        c = readout_weights(T, math.exp(-self.dt / self.tau_out), dtype)
        n_chunks, rem = divmod(T, chunk)

        def block(states, h, c_blk):
            """All layers over one block of steps, each layer over the whole block."""
            new_states, outs = [], []
            for lyr, beta, p, st, m in zip(self.spiking_layers, betas, params, states, modes):
                Tb = h.shape[0]
                if m == "layer_first":
                    I = (h.reshape(Tb * B, -1) @ p["W"] + p["b"]).reshape(Tb, B, lyr.n)
                    S, V, r = lif_scan(lyr, beta, self.surrogate, I, st[0], st[1])
                    st = (V, r, S[-1])
                else:
                    st, S = self._recurrent_scan(lyr, beta, p, st, h)
                new_states.append(st)
                outs.append(S)
                h = S
            z = jnp.einsum("t,tbn->bn", c_blk, h) if self.readout == "leaky" else h.sum(0)
            return new_states, outs, z

        states = self._init_states(B, dtype)
        if n_chunks == 1 and rem == 0:
            _, spikes, z = block(states, x, c)
        else:
            def body(carry, xs):
                st, zacc = carry
                h, cb = xs
                st, outs, z = block(st, h, cb)
                return (st, zacc + z), outs

            n_last = self.spiking_layers[-1].n
            z0 = jnp.zeros((B, n_last), dtype)
            main = n_chunks * chunk
            xs = (x[:main].reshape(n_chunks, chunk, B, -1), c[:main].reshape(n_chunks, chunk))
            (states, z), spikes = lax.scan(body, (states, z0), xs)
            spikes = [s.reshape(main, B, -1) for s in spikes]
            if rem:
                _, tail, zt = block(states, x[main:], c[main:])
                spikes = [jnp.concatenate([a, b]) for a, b in zip(spikes, tail)]
                z = z + zt
        if self.readout == "leaky":
            p = params[n_sp]
            logits = z @ p["W"] + jnp.sum(c) * p["b"]
        else:
            logits = z
        return logits, spikes

    def _recurrent_scan(self, lyr, beta, p, st, h):
        """A recurrent layer over a window, one step at a time (same arithmetic as step_first)."""

        def step(carry, h_t):
            V, r, s_prev = carry
            I = h_t @ p["W"] + p["b"]
            I = I + s_prev @ p["V"]
            V, r, s = lif_step(lyr, beta, self.surrogate, V, r, I)
            return (V, r, s), s

        st, S = lax.scan(step, st, h)
        return st, S
