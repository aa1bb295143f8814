"""Online learning with eligibility traces (e-prop / D-RTRL / ES-D-RTRL) for the E/I network.

One forward pass, no backward pass: the weight gradient is accumulated while the trial runs, from
eligibility traces and the instantaneous learning signal. Nothing is stored per time step, so the
memory does not grow with the trial length.

Derivation, for our conductance GIF cell (:mod:`core.training.ei_network`). With the recurrent
spikes entering the conductances detached and the reset detached, a weight ``w_ji`` (presynaptic
``j``, postsynaptic ``i``) reaches the loss only through neuron ``i``'s potential ``u_i`` and its
filtered spikes ``zeta_i`` (which drive the readout). The conductances are linear in the weights:
``g_i(t) = sum_j |w_ji| s_j(t)`` with the presynaptic trace ``s_j(t) = lam s_j(t-1) + z_j(t-1)``
(``x_j(t)`` for an input). Per step, with ``c = du/dv``, ``b = du/dg`` (``fa (e_exc - v)`` or
``fa (e_inh - v)``), ``psi = dz/du`` (the surrogate) and ``z`` the spike:

    du(t)/dw_ji    = c_i(t) eps^v_ji(t-1) + b_i(t) s_j(t)
    eps^v_ji(t)    = (1 - z_i(t)) du(t)/dw_ji                    (reset detached)
    eps^zeta_ji(t) = kappa eps^zeta_ji(t-1) + psi_i(t) du(t)/dw_ji
    dL/dw_ji      += L_i(t) eps^zeta_ji(t),     L_i(t) = sum_k W_out[i, k] dl_t/dy_k(t)

``L`` is the instantaneous learning signal (the loss at step ``t`` depends on ``y(t) = zeta(t)
W_out + b``). This is the exact (D-RTRL / e-prop) rule: it equals BPTT with the recurrent
spikes detached, at ``O(synapses)`` memory per trial (``rule="d-rtrl"``).

``rule="es-d-rtrl"`` (the default) factorises the trace into a presynaptic and a postsynaptic
part, ``eps_ji(t) ~ s_j(t) e_i(t)``, keeping per neuron (O(neurons) memory) for each of the two
reversal potentials:

    q_i(t) = c_i(t) e^v_i(t-1) + b_i(t);  e^v_i = (1 - z_i) q_i;  e^zeta_i = kappa e^zeta_i + psi_i q_i
    dL/dw_ji += L_i(t) e^zeta_i(t) s_j(t)

The adaptation current I2 (and the threshold) carry the trace for hundreds of milliseconds, so
their part of ``e_i`` is kept separately and paired with a presynaptic trace smoothed over the
adaptation time constant (``hat_s``) instead of the membrane's (``bar_s``); with a single factor
the rule credited a cue seen long ago to the input active now, and its updates drove the network
to below chance (see ``_es_trace_step``). The exact rule also carries the I2 and theta traces.
It is exact where the presynaptic trace changes slowly against these memories and is
otherwise the approximation of the ES-D-RTRL family; its cosine to the exact gradient is what
the tests and the benchmark report. The readout gradients are exact in both rules. Weight
gradients are accumulated only where the loss is non-zero (the recall window), the trial before
it runs the traces alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core.lazy import jax, jnp, lax

from ..errors import ParameterError
from .ei_network import (
    EINetConfig,
    Structure,
    constants,
    effective,
    init_state,
    loss_cotangent,
    step,
    synaptic_operator,
)

Array = Any
RULES = ("es-d-rtrl", "d-rtrl")
_PATHS = (("w_e", "csr_e", "e"), ("w_i", "csr_i", "i"), ("w_in", "csr_in", "e"))


_TRACES = ("v", "I2", "th", "zeta")


def _trace_step(c, el, du_dv, du_dI, b, psi, keep):
    """One step of a neuron's eligibility traces (membrane, adaptation current, threshold,
    filtered spike) for the input factor ``b`` (``du/dg`` times the presynaptic trace)."""
    q = du_dv * el["v"] + du_dI * el["I2"] + b  # du(t)/dw
    h = psi * (q - c.d_th * el["th"])  # dz(t)/dw
    return {"v": keep * q, "I2": c.d_I2 * el["I2"] + c.A2 * h,
            "th": c.d_th * el["th"] + c.A_th * h, "zeta": c.kappa * el["zeta"] + h}


_ES_TRACES = ("v", "zeta", "v_s", "I2", "th", "zeta_s")


def _es_trace_step(c, el, du_dv, du_dI, b, psi, keep):
    """One step of the factorised (ES-D-RTRL) traces of a neuron, in two parts with their own
    presynaptic factor: the fast part (membrane, filtered spike: paired with the presynaptic
    trace smoothed over the membrane time) and the slow part carried by the adaptation current
    and the threshold (paired with the trace smoothed over the adaptation time). One factor for
    both would read a cue from hundreds of milliseconds ago with the presynaptic activity of
    now, which turns the adaptation's memory into a gradient of the wrong sign."""
    q_f = du_dv * el["v"] + b
    h_f = psi * q_f
    q_s = du_dv * el["v_s"] + du_dI * el["I2"]
    h_s = psi * (q_s - c.d_th * el["th"])
    h = h_f + h_s
    return {"v": keep * q_f, "zeta": c.kappa * el["zeta"] + h_f,
            "v_s": keep * q_s, "zeta_s": c.kappa * el["zeta_s"] + h_s,
            "I2": c.d_I2 * el["I2"] + c.A2 * h, "th": c.d_th * el["th"] + c.A_th * h}


def online_grad(cfg: EINetConfig, structure: Structure, params: dict, input_fn: Callable,
                T: int, batch: int, labels, mask, *, rule: str = "es-d-rtrl",
                pre_smoothing: float | None = None,
                readout_only: bool = False):
    """``(loss, correct, rate, grads)`` like :func:`core.training.bptt.bptt_grad`, computed
    forward in time. ``mask`` (T,) must be a host array (it splits the trial in two scans)."""
    if rule not in RULES:
        raise ParameterError(f"online rule must be one of {RULES}, got {rule!r}")
    if not cfg.detach_reset:
        raise ParameterError("the online rule assumes the reset is detached (detach_reset=True)")
    c = constants(cfg)
    dtype = jnp.dtype(cfg.dtype)
    mask = np.asarray(mask, np.float32)
    nz = np.nonzero(mask)[0]
    if nz.size == 0:
        raise ParameterError("the loss mask is empty: no step contributes to the loss")
    t0 = int(nz[0])
    n_mask = float(mask.sum())
    eff = effective(params)
    syn = synaptic_operator(c, structure, eff)
    ne = c.n_exc
    idx = {k: (getattr(structure, s).rows, getattr(structure, s).indices) for k, s, _ in _PATHS}

    alpha = float(np.exp(-c.a)) if pre_smoothing is None else float(pre_smoothing)

    def pre_traces(tr, s_prev, x_t):
        z = s_prev["z"]
        new = {"e": c.lam * tr["e"] + z[:, :ne], "i": c.lam * tr["i"] + z[:, ne:],
               "in": c.lam * tr["in"] + x_t}
        if rule == "es-d-rtrl":  # smoothed copies: membrane (bar_) and adaptation (hat_) scale
            for k in ("e", "i", "in"):
                new["bar_" + k] = alpha * tr["bar_" + k] + (1.0 - alpha) * new[k]
                new["hat_" + k] = c.d_I2 * tr["hat_" + k] + (1.0 - c.d_I2) * new[k]
        return new

    def init_elig():
        if readout_only:
            return {}
        if rule == "es-d-rtrl":
            zero = jnp.zeros((batch, c.n), dtype)
            return {k: {f: zero for f in _ES_TRACES} for k in ("e", "i")}
        return {name: {f: jnp.zeros((batch, idx[name][0].shape[0]), dtype) for f in _TRACES}
                for name, _, _ in _PATHS}

    pre_of = {"w_e": "e", "w_i": "i", "w_in": "in"}

    def update_elig(el, aux, z, tr):
        if readout_only:
            return el
        keep = 1.0 - z
        if rule == "es-d-rtrl":
            out = {}
            for k in ("e", "i"):
                out[k] = _es_trace_step(c, el[k], aux["du_dv"], aux["du_dI"], aux["b_" + k],
                                        aux["psi"], keep)
            return out
        out = {}
        for name, _, kind in _PATHS:
            rows, cols = idx[name]
            out[name] = _trace_step(c, el[name], aux["du_dv"][:, cols], aux["du_dI"][:, cols],
                                    aux["b_" + kind][:, cols] * tr[pre_of[name]][:, rows],
                                    aux["psi"][:, cols], keep[:, cols])
        return out

    def accumulate(G, el, L, tr):
        if readout_only:
            return G
        G = dict(G)
        for name, _, kind in _PATHS:
            if rule == "es-d-rtrl":  # pre x post outer product: one matmul, gathered at the end
                G[name] = (G[name] + tr["bar_" + pre_of[name]].T @ (L * el[kind]["zeta"])
                           + tr["hat_" + pre_of[name]].T @ (L * el[kind]["zeta_s"]))
            else:
                G[name] = G[name] + jnp.sum(L[:, idx[name][1]] * el[name]["zeta"], axis=0)
        return G

    def make_body(learn: bool):
        def body(carry, t):
            s, tr, el, G, acc = carry
            x_t = input_fn(t).astype(dtype)
            tr = pre_traces(tr, s, x_t)
            s, (z, _, y), aux = step(c, syn, eff, s, x_t, detach_recurrent=True,
                                     return_aux=True)
            el = update_elig(el, aux, z, tr)
            acc = dict(acc, nspk=acc["nspk"] + jnp.sum(z))
            if learn:
                m = jnp.asarray(mask)[t]
                delta = loss_cotangent(y, labels, m) / (n_mask * batch)
                L = delta @ eff["w_out"].T
                G = accumulate(G, el, L, tr)
                G = dict(G, w_out=G["w_out"] + s["zeta"].T @ delta,
                         b_out=G["b_out"] + jnp.sum(delta, axis=0))
                logp = jax.nn.log_softmax(y, axis=-1)
                ce = -jnp.sum(jnp.take_along_axis(logp, labels[:, None], axis=-1)) * m
                acc = dict(acc, loss=acc["loss"] + ce / (n_mask * batch),
                           ysum=acc["ysum"] + y * m)
            return (s, tr, el, G, acc), None
        return body

    s0 = init_state(c, batch, dtype)
    tr0 = {"e": jnp.zeros((batch, ne), dtype), "i": jnp.zeros((batch, c.n - ne), dtype),
           "in": jnp.zeros((batch, int(cfg.n_in)), dtype)}
    if rule == "es-d-rtrl":
        tr0.update({p + k: jnp.zeros_like(v) for k, v in list(tr0.items())
                    for p in ("bar_", "hat_")})
    G0 = {k: jnp.zeros_like(v) for k, v in eff.items()}
    if rule == "es-d-rtrl" and not readout_only:
        for name, sname, _ in _PATHS:
            G0[name] = jnp.zeros(getattr(structure, sname).shape, dtype)
    acc0 = {"loss": jnp.zeros((), dtype), "ysum": jnp.zeros((batch, cfg.n_out), dtype),
            "nspk": jnp.zeros((), dtype)}
    carry = (s0, tr0, init_elig(), G0, acc0)
    if t0 > 0:
        carry, _ = lax.scan(make_body(False), carry, jnp.arange(t0))
    carry, _ = lax.scan(make_body(True), carry, jnp.arange(t0, T))
    _, _, _, G, acc = carry
    if rule == "es-d-rtrl" and not readout_only:
        G = dict(G, **{name: G[name][idx[name]] for name, _, _ in _PATHS})
    # chain rule through Dale's |W| (and the readout-only stop)
    _, vjp = jax.vjp(effective, params)
    (grads,) = vjp(G)
    if readout_only:
        grads = {k: (v if k in ("w_out", "b_out") else jnp.zeros_like(v))
                 for k, v in grads.items()}
    correct = jnp.argmax(acc["ysum"], axis=-1) == labels
    rate = acc["nspk"] / (batch * c.n * T * c.dt) * 1000.0
    return acc["loss"], correct, rate, grads


def cosine(a: dict, b: dict, keys=None) -> float:
    """Cosine similarity of two gradient pytrees (over ``keys``, default all)."""
    keys = sorted(a) if keys is None else keys
    va = np.concatenate([np.ravel(np.asarray(a[k], np.float64)) for k in keys])
    vb = np.concatenate([np.ravel(np.asarray(b[k], np.float64)) for k in keys])
    den = np.linalg.norm(va) * np.linalg.norm(vb)
    return float(va @ vb / den) if den > 0 else float("nan")
