"""The trainable conductance-based GIF E/I network of the seed paper (Appendix F).

``n_exc + n_inh`` GIF neurons (4:1 by default), recurrent connections with probability ``p`` (no
autapses), all-to-all excitatory input from the task's Poisson neurons, exponential conductance
synapses and a leaky readout. Per step ``t`` (``dt`` ms, batch ``b`` omitted):

    g_e(t) = lam g_e(t-1) + z_E(t-1) |W_E| + x(t) |W_in|       lam = exp(-dt / tau_syn)
    g_i(t) = lam g_i(t-1) + z_I(t-1) |W_I|
    u      = v + f a [-v + R' (I1 + I2) + g_e (e_exc - v) + g_i (e_inh - v)]     a = dt / tau_V
    z(t)   = H(u - 1 - theta)      (a surrogate derivative backward; no spike while refractory)
    v(t)   = u (1 - z) + z v_reset;  I1 <- A1' on a spike, I2 <- I2 + A2', theta <- theta + A_th'
    zeta(t) = kappa zeta(t-1) + z(t),   y(t) = zeta(t) W_out + b_out    kappa = exp(-dt/tau_out)

``f`` is 0 while refractory (``t_ref``) and 1 otherwise; I1, I2 and theta decay exactly
(``exp(-dt/tau)``) between spikes. The readout ``y`` is Eqs. 17-18 (``y_t = kappa y_{t-1} + W_out
z_t``) written through the filtered spikes ``zeta``; the bias is added unfiltered.

Scaled membrane (F.5): ``v = (V - V_rest) / (V_th - V_rest)`` so rest is 0 and the threshold 1;
with the default neuron (V_rest = -60 mV, V_th = -40 mV: offset 60 mV, scale 20 mV) the
reversal potentials E_exc = 0 mV and E_inh = -120 mV become 3 and -3. Currents keep nA:
``R' = R / V_scale`` (MOhm / mV). A fitted GIF (``NeuronParams.from_fit``) brings its own rest,
threshold, reset, time constants and spike-triggered currents, scaled the same way.

Dale's law: trainable weights are magnitudes, the step uses ``|W|``; excitatory rows feed
``g_e`` and inhibitory rows ``g_i``, so a sign never flips. Initialisation (F.8): every
connection ``|N(0, 1)| sqrt(s / fan_in)`` with ``s = s_in`` (input) or ``s_rec`` (recurrent) and
``fan_in`` the expected number of inputs of a neuron; the readout ``N(0, 1/N)``, bias 0.

Synapses: ``synapses="csr"`` runs them through the event-driven CSR operator
(:mod:`core.ops.csr`, its custom VJP giving the weight gradients); ``synapses="dense"`` runs the
same parameters (CSR data) as dense matrices built from the patterns -- the reference the tests
compare values and gradients with. Dense is the default: on a 2-core CPU at 400 neurons the
operator's scatter/gather kernels are slower than one small matmul (``benchmarks/training.py``
measures both per training batch). The reset's dependence on the spike is always detached
(stop-gradient); ``detach_recurrent`` also detaches the spikes entering the conductances, which
is the gradient the online rule (:mod:`core.training.online`) computes exactly. The adaptation
current I2 and the threshold theta keep their gradient through the spike (they are not a reset):
they are the network's memory across the delay, and with them detached no gradient could reach a
cue from the recall window once the recurrence is detached (training then went to chance or below).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.lazy import jax, jnp, lax, register_dataclass_pytree

from ..errors import ParameterError
from ..ops.csr import CSR, event_matmat
from ..surrogate import SURROGATES, get_surrogate

Array = Any

GIF_FIELDS = ("tau_V", "R", "V_rest", "V_reset", "V_th", "A1", "A2", "tau_I1", "tau_I2", "A_th",
              "tau_th", "t_ref")


@dataclass(frozen=True)
class NeuronParams:
    """GIF parameters of every network neuron, in core units (ms, mV, MOhm, nA).

    The default is the seed network's neuron: rest and reset -60 mV, threshold -40 mV (offset
    60, scale 20), tau_V 20 ms, R 20 MOhm, no I1, an adaptation current I2 of -0.05 nA per spike
    decaying with 500 ms."""

    tau_V: float = 20.0
    R: float = 20.0
    V_rest: float = -60.0
    V_reset: float = -60.0
    V_th: float = -40.0
    A1: float = 0.0
    A2: float = -0.05
    tau_I1: float = 5.0
    tau_I2: float = 500.0
    A_th: float = 0.0
    tau_th: float = 50.0
    t_ref: float = 0.0
    source: str = "default"

    def __post_init__(self):
        for name in GIF_FIELDS:
            v = getattr(self, name)
            if not math.isfinite(float(v)):
                raise ParameterError(f"neurons: {name} must be finite, got {v}")
        for name in ("tau_V", "R", "tau_I1", "tau_I2", "tau_th"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"neurons: {name} must be > 0, got {getattr(self, name)}")
        if self.t_ref < 0:
            raise ParameterError(f"neurons: t_ref must be >= 0, got {self.t_ref}")
        if not self.V_th > self.V_rest:
            raise ParameterError(f"neurons: V_th ({self.V_th} mV) must lie above V_rest "
                                 f"({self.V_rest} mV)")
        if not self.V_reset < self.V_th:
            raise ParameterError(f"neurons: V_reset ({self.V_reset} mV) must lie below V_th "
                                 f"({self.V_th} mV)")

    @property
    def V_scale(self) -> float:
        return float(self.V_th - self.V_rest)

    @property
    def V_offset(self) -> float:
        return float(-self.V_rest)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_fit(cls, path, group: str | None = None) -> NeuronParams:
        """The parameters of a GIF fit result (``brainfit fit`` output): the best fit in the
        file, or the one at ``group``. A fit of another model is refused."""
        from ..fitting.results import load_fit

        return cls.from_fit_result(load_fit(str(path), group), str(path))

    @classmethod
    def from_fit_result(cls, fit, source: str) -> NeuronParams:
        """The parameters of a GIF :class:`~core.fitting.results.FitResult` (``source`` names
        where it came from: a file, the session's fit); a fit of another model is refused."""
        if fit.model != "gif":
            raise ParameterError(f"{source}: holds a fit of the {fit.model!r} model; the E/I "
                                 f"network's neurons need a GIF fit (brainfit fit --model gif)")
        p = fit.params
        missing = [k for k in GIF_FIELDS if k not in p]
        if missing:
            raise ParameterError(f"{source}: the GIF fit lacks parameter(s) {', '.join(missing)}")
        return cls(**{k: float(p[k]) for k in GIF_FIELDS}, source=str(source))


#: the E/I network's surrogate (``relu_grad``): height 0.1 keeps the full BPTT gradient through
#: the recurrent conductance loop finite at T = 2200 steps (0.3 made it explode: initial norm
#: ~3e4, held-out accuracy at chance) while the online rule still learns
#: (``benchmarks/training.py``)
DEFAULT_SURROGATE_PARAMS = {"alpha": 0.1, "width": 1.0}


@dataclass(frozen=True)
class EINetConfig:
    """Network settings (saved with every training result)."""

    n_exc: int = 320
    n_inh: int = 80
    n_in: int = 100
    n_out: int = 2
    p: float = 0.1
    tau_syn: float = 10.0
    E_exc: float = 0.0
    E_inh: float = -120.0
    tau_out: float = 20.0
    s_in: float = 0.25
    s_rec: float = 0.05
    dt: float = 1.0
    surrogate: str = "relu_grad"
    surrogate_params: dict = field(default_factory=lambda: dict(DEFAULT_SURROGATE_PARAMS))
    synapses: str = "dense"
    max_active: int | None = None
    neurons: NeuronParams = field(default_factory=NeuronParams)
    # connection probabilities by population, rows presynaptic (E, I), columns postsynaptic
    # (E, I), e.g. from a connectome file (:func:`connectome_probabilities`); None: ``p`` for all
    p_matrix: tuple[tuple[float, float], tuple[float, float]] | None = None
    dtype: str = "float32"
    detach_reset: bool = True  # stop the gradient through the reset (the usual choice)

    def __post_init__(self):
        for name in ("n_exc", "n_inh", "n_in", "n_out"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ParameterError(f"network: {name} must be a whole number >= 1, got {v} "
                                     f"(a network needs excitatory and inhibitory neurons)")
        if not (0.0 < self.p <= 1.0):
            raise ParameterError(f"network: connection probability p must lie in (0, 1], "
                                 f"got {self.p}")
        for name in ("tau_syn", "tau_out", "dt"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ParameterError(f"network: {name} must be > 0 ms, got {v}")
        for name in ("s_in", "s_rec"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ParameterError(f"network: {name} must be >= 0, got {v}")
        if self.synapses not in ("csr", "dense"):
            raise ParameterError(f"network: synapses must be 'csr' or 'dense', got "
                                 f"{self.synapses!r}")
        if self.surrogate not in SURROGATES:
            raise ParameterError(f"network: unknown surrogate {self.surrogate!r}; known: "
                                 f"{', '.join(sorted(SURROGATES))}")
        try:
            get_surrogate(self.surrogate, **self.surrogate_params)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"network: surrogate {self.surrogate!r}: {exc}") from None
        if self.p_matrix is not None:
            try:
                pm = np.asarray(self.p_matrix, dtype=float)
            except (TypeError, ValueError):
                pm = np.zeros(0)
            if pm.shape != (2, 2) or not np.all(np.isfinite(pm)) or pm.min() < 0 or pm.max() > 1:
                raise ParameterError(f"network: p_matrix must be 2 x 2 probabilities in [0, 1] "
                                     f"(rows pre E, I; columns post E, I), got {self.p_matrix}")
            object.__setattr__(self, "p_matrix", tuple(tuple(float(x) for x in row)
                                                       for row in pm))
        if isinstance(self.neurons, dict):
            object.__setattr__(self, "neurons", NeuronParams(**self.neurons))
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"network: dtype must be float32 or float64, got {self.dtype}")

    @property
    def n(self) -> int:
        return int(self.n_exc) + int(self.n_inh)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["neurons"] = self.neurons.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EINetConfig:
        d = dict(d)
        d["neurons"] = NeuronParams(**d.get("neurons", {}))
        return cls(**d)

    def replace(self, **kw) -> EINetConfig:
        return dataclasses.replace(self, **kw)


@dataclass(frozen=True)
class Constants:
    """Per-step constants in scaled units (hashable: a jit static argument)."""

    n_exc: int
    n: int
    dt: float
    lam: float
    kappa: float
    a: float
    Rp: float
    e_exc: float
    e_inh: float
    v_reset: float
    A1: float
    A2: float
    A_th: float
    t_ref: float
    d_I1: float
    d_I2: float
    d_th: float
    surrogate: Any
    dense: bool
    max_active: int | None
    detach_reset: bool = True


def constants(cfg: EINetConfig) -> Constants:
    nrn, dt = cfg.neurons, float(cfg.dt)
    sc = nrn.V_scale
    return Constants(
        n_exc=int(cfg.n_exc), n=cfg.n, dt=dt, lam=math.exp(-dt / cfg.tau_syn),
        kappa=math.exp(-dt / cfg.tau_out), a=dt / nrn.tau_V, Rp=nrn.R / sc,
        e_exc=(cfg.E_exc - nrn.V_rest) / sc, e_inh=(cfg.E_inh - nrn.V_rest) / sc,
        v_reset=(nrn.V_reset - nrn.V_rest) / sc, A1=float(nrn.A1), A2=float(nrn.A2),
        A_th=nrn.A_th / sc, t_ref=float(nrn.t_ref), d_I1=math.exp(-dt / nrn.tau_I1),
        d_I2=math.exp(-dt / nrn.tau_I2), d_th=math.exp(-dt / nrn.tau_th),
        surrogate=get_surrogate(cfg.surrogate, **cfg.surrogate_params),
        dense=cfg.synapses == "dense", max_active=cfg.max_active,
        detach_reset=bool(cfg.detach_reset))


# ---- connectivity and initialisation ---------------------------------------------------------
def connectome_probabilities(path) -> tuple[tuple[float, float], tuple[float, float]]:
    """The E/I connection probabilities of a population-level connectome file (CSV, NPZ, HDF5;
    :func:`core.network.load_connectome`) whose labels are ``E`` and ``I``, as ``p_matrix``."""
    from ..network.connectivity import load_connectome

    conn = load_connectome(path, kind="probability")
    if sorted(conn.labels) != ["E", "I"]:
        raise ParameterError(f"{path}: the EI network takes a population-level connectome with "
                             f"the labels E and I (rows presynaptic), got {list(conn.labels)}")
    order = [conn.labels.index("E"), conn.labels.index("I")]
    m = conn.matrix[np.ix_(order, order)]
    return ((float(m[0, 0]), float(m[0, 1])), (float(m[1, 0]), float(m[1, 1])))


@dataclass(frozen=True)
class Structure:
    """The fixed connection patterns (CSR; weights live in the parameters)."""

    csr_e: CSR  # (n_exc, n)
    csr_i: CSR  # (n_inh, n)
    csr_in: CSR  # (n_in, n), all-to-all


register_dataclass_pytree(Structure, data_fields=["csr_e", "csr_i", "csr_in"], meta_fields=[])


def init_network(cfg: EINetConfig, seed: int = 0) -> tuple[Structure, dict]:
    """``(structure, params)``: connection patterns and initial weights (F.8), seeded."""
    rng = np.random.default_rng(int(seed))
    n, ne, ni, n_in = cfg.n, int(cfg.n_exc), int(cfg.n_inh), int(cfg.n_in)
    dtype = np.dtype(cfg.dtype)
    if cfg.p_matrix is None:
        mask = rng.random((n, n)) < cfg.p
        fan_rec = max(cfg.p * (n - 1), 1.0)
    else:  # population-level probabilities (a connectome): the same draw, block by block
        pm = np.asarray(cfg.p_matrix)
        prob = np.block([[np.full((ne, ne), pm[0, 0]), np.full((ne, ni), pm[0, 1])],
                         [np.full((ni, ne), pm[1, 0]), np.full((ni, ni), pm[1, 1])]])
        mask = rng.random((n, n)) < prob
        fan_rec = max(float(prob.sum(axis=0).mean()), 1.0)  # mean expected fan-in
    np.fill_diagonal(mask, False)

    def pattern(m):
        indptr = np.concatenate([[0], np.cumsum(m.sum(axis=1))])
        return indptr, np.nonzero(m)[1]

    def magnitudes(k, s, fan):
        return (np.abs(rng.standard_normal(k)) * math.sqrt(s / fan)).astype(dtype)

    ip_e, ix_e = pattern(mask[:ne])
    ip_i, ix_i = pattern(mask[ne:])
    full = np.ones((n_in, n), bool)
    ip_in, ix_in = pattern(full)
    w_e = magnitudes(ix_e.size, cfg.s_rec, fan_rec)
    w_i = magnitudes(ix_i.size, cfg.s_rec, fan_rec)
    w_in = magnitudes(ix_in.size, cfg.s_in, n_in)
    structure = Structure(
        csr_e=CSR.from_arrays(ip_e, ix_e, np.zeros((), dtype), (ne, n), dtype=dtype),
        csr_i=CSR.from_arrays(ip_i, ix_i, np.zeros((), dtype), (ni, n), dtype=dtype),
        csr_in=CSR.from_arrays(ip_in, ix_in, np.zeros((), dtype), (n_in, n), dtype=dtype))
    params = {"w_e": jnp.asarray(w_e), "w_i": jnp.asarray(w_i), "w_in": jnp.asarray(w_in),
              "w_out": jnp.asarray(rng.standard_normal((n, cfg.n_out)) / math.sqrt(n), dtype),
              "b_out": jnp.zeros(cfg.n_out, dtype)}
    return structure, params


def effective(params: dict) -> dict:
    """Dale's law: the step uses ``|W|`` of the recurrent and input magnitudes."""
    return {"w_e": jnp.abs(params["w_e"]), "w_i": jnp.abs(params["w_i"]),
            "w_in": jnp.abs(params["w_in"]), "w_out": params["w_out"], "b_out": params["b_out"]}


def dense_weights(structure: Structure, eff: dict) -> dict:
    """Dense ``(n_pre, n)`` matrices of the effective weights (differentiable)."""
    return {"W_e": structure.csr_e.with_weights(eff["w_e"]).to_dense(),
            "W_i": structure.csr_i.with_weights(eff["w_i"]).to_dense(),
            "W_in": structure.csr_in.with_weights(eff["w_in"]).to_dense()}


def synaptic_operator(c: Constants, structure: Structure, eff: dict):
    """``syn(kind, X) -> X @ |W_kind|`` for batched presynaptic activity ``X`` (B, n_pre)."""
    if c.dense:
        dense = dense_weights(structure, eff)
        return lambda kind, X: X @ dense["W_" + kind]
    csrs = {"e": structure.csr_e.with_weights(eff["w_e"]),
            "i": structure.csr_i.with_weights(eff["w_i"]),
            "in": structure.csr_in.with_weights(eff["w_in"])}
    k = {kind: _buffer(c.max_active, m.n_pre) for kind, m in csrs.items()}
    return lambda kind, X: event_matmat(X, csrs[kind], k[kind])


def _buffer(max_active: int | None, n_pre: int) -> int:
    """Spike-buffer slots per trial: ``max_active``, or a tenth of the presynaptic population
    plus 4 (rates of tens of Hz at dt = 1 ms leave it mostly empty; more active neurons take the
    operator's exact full path)."""
    if max_active is not None:
        return min(int(max_active), n_pre)
    return min(n_pre, n_pre // 10 + 4)


# ---- the step --------------------------------------------------------------------------------
STATE = ("v", "I1", "I2", "theta", "ref", "g_e", "g_i", "zeta", "z")


def init_state(c: Constants, batch: int, dtype=np.float32) -> dict:
    zero = jnp.zeros((batch, c.n), dtype)
    return {k: zero for k in STATE}


def membrane(c: Constants, s: dict, g_e, g_i):
    """The membrane update and its local derivatives; shared by BPTT and the online rule.

    Returns ``(u, x, free)`` -- the integrated potential, the spike argument and the
    not-refractory mask -- and the partials ``du/dv``, ``du/dg_e``, ``du/dg_i``."""
    v = s["v"]
    free = (s["ref"] <= 0).astype(v.dtype)
    fa = free * c.a
    drive = -v + c.Rp * (s["I1"] + s["I2"]) + g_e * (c.e_exc - v) + g_i * (c.e_inh - v)
    u = v + fa * drive
    ref = jnp.maximum(s["ref"] - c.dt, 0.0)
    theta = s["theta"] * c.d_th
    x = jnp.where(ref > 0, -1.0, u - 1.0 - theta).astype(v.dtype)
    du_dv = 1.0 - fa * (1.0 + g_e + g_i)
    return u, x, ref, theta, du_dv, fa * (c.e_exc - v), fa * (c.e_inh - v)


def step(c: Constants, syn, params: dict, s: dict, x_t, *, detach_recurrent: bool = False,
         return_aux: bool = False):
    """One step for a batch: ``(state, (z, v, y))`` with ``y`` the readout (B, n_out).

    ``return_aux`` adds the local derivatives the online rule needs: ``psi = dz/du`` (the
    surrogate, 0 while refractory), ``du_dv``, ``b_e = du/dg_e``, ``b_i = du/dg_i``."""
    z_prev = lax.stop_gradient(s["z"]) if detach_recurrent else s["z"]
    ne = c.n_exc
    g_e = c.lam * s["g_e"] + syn("e", z_prev[:, :ne]) + syn("in", x_t)
    g_i = c.lam * s["g_i"] + syn("i", z_prev[:, ne:])
    u, x, ref, theta, du_dv, b_e, b_i = membrane(c, s, g_e, g_i)
    z = c.surrogate(x)
    zd = lax.stop_gradient(z) if c.detach_reset else z
    new = {"v": u * (1.0 - zd) + zd * c.v_reset,
           "I1": s["I1"] * c.d_I1 * (1.0 - zd) + zd * c.A1,
           "I2": s["I2"] * c.d_I2 + z * c.A2,  # adaptation keeps its gradient (memory)
           "theta": theta + z * c.A_th,
           "ref": ref * (1.0 - zd) + zd * c.t_ref,
           "g_e": g_e, "g_i": g_i,
           "zeta": c.kappa * s["zeta"] + z, "z": z}
    y = new["zeta"] @ params["w_out"] + params["b_out"]
    if not return_aux:
        return new, (z, new["v"], y)
    psi = c.surrogate.grad(x) * (ref <= 0).astype(x.dtype)
    return new, (z, new["v"], y), {"psi": psi, "du_dv": du_dv, "b_e": b_e, "b_i": b_i,
                                   "du_dI": (s["ref"] <= 0).astype(x.dtype) * c.a * c.Rp}


# ---- loss ------------------------------------------------------------------------------------
def recall_loss(ys, labels, mask):
    """Cross-entropy averaged over the recall window (``mask`` (T,) of 0/1) and the batch;
    the decision is the arg-max of the window's mean readout. Returns ``(loss, correct (B,))``."""
    logp = jax.nn.log_softmax(ys, axis=-1)  # (T, B, n_out)
    picked = jnp.take_along_axis(logp, labels[None, :, None], axis=-1)[..., 0]
    m = mask.astype(ys.dtype)
    loss = -jnp.sum(picked * m[:, None]) / (jnp.sum(m) * ys.shape[1])
    mean_y = jnp.sum(ys * m[:, None, None], axis=0) / jnp.sum(m)
    return loss, jnp.argmax(mean_y, axis=-1) == labels


def loss_cotangent(ys, labels, mask):
    """``d loss / d y_t`` of :func:`recall_loss` for one step's readout ``ys`` (B, n_out)."""
    onehot = jax.nn.one_hot(labels, ys.shape[-1], dtype=ys.dtype)
    return (jax.nn.softmax(ys, axis=-1) - onehot) * mask


def run_trials(cfg: EINetConfig, structure: Structure, params: dict, x, *, record=False):
    """Simulate a batch ``x`` (T, B, n_in): readouts (T, B, n_out), and with ``record`` also
    spikes (T, B, n) and scaled membranes (T, B, n)."""
    c = constants(cfg)
    dtype = jnp.dtype(cfg.dtype)
    eff = effective(params)
    syn = synaptic_operator(c, structure, eff)

    def body(s, x_t):
        s, (z, v, y) = step(c, syn, eff, s, x_t)
        return s, ((y, z.astype(jnp.bool_), v) if record else y)

    _, out = lax.scan(body, init_state(c, x.shape[1], dtype), x.astype(dtype))
    return out
