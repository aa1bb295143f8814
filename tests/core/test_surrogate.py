"""Surrogate spike functions: exact Heaviside forward, pseudo-derivative backward.

Every gradient is compared with an independent NumPy transcription of the published formula
(never with ``.grad``), for the default shape parameters and for a non-default set.
"""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit

import core  # noqa: F401  (enables float64)
from core.surrogate import SURROGATES, Surrogate, get_surrogate

EXPECTED = {
    "sigmoid", "piecewise_quadratic", "piecewise_exp", "soft_sign", "arctan",
    "nonzero_sign_log", "erf", "piecewise_leaky_relu", "squarewave_fourier_series", "s2nn",
    "q_pseudo_spike", "leaky_relu", "log_tailed_relu", "relu_grad", "gaussian_grad",
    "multi_gaussian_grad", "inv_square_grad", "slayer_grad",
}
NAMES = sorted(SURROGATES)

# smallest normal numbers included; subnormals are not: XLA on CPU treats them as zero
# (denormals-are-zero), so -5e-324 counts as "at threshold" -- physically the same thing.
_T64 = float(np.finfo(np.float64).tiny)
_T32 = float(np.finfo(np.float32).tiny)
TINY = [0.0, -0.0, _T64, -_T64, _T32, -_T32, 1e-300, -1e-300, 1e-12, -1e-12, 1e-7, -1e-7]
# a grid that includes 0, +-tiny, and the kinks of the piecewise surrogates (+-0.5, +-1, +-2)
GRID = np.concatenate([  # np.unique merges -0.0 into 0.0: add -0.0 back
    np.unique(np.concatenate([np.linspace(-4.0, 4.0, 33), TINY, [-0.37, 0.37, 1.3, -2.9]])),
    [-0.0]])
WIDE = np.concatenate([GRID, [-1e300, -1e8, -1e3, -50.0, 50.0, 1e3, 1e8, 1e300]])


# ---- independent NumPy references: g(x; params) -------------------------------------------
def _npdf(x, mu, sd):
    return np.exp(-((x - mu) ** 2) / (2.0 * sd * sd)) / (sd * np.sqrt(2.0 * np.pi))


def _sig_deriv(x, a):
    s = expit(a * x)
    return a * s * (1.0 - s)


def _squarewave(x, n, t_period):
    return 4.0 / t_period * sum(np.cos((2 * i - 1) * 2 * np.pi * x / t_period)
                                for i in range(1, n + 1))


def _log_tailed(x, alpha):
    out = np.full_like(x, alpha)
    out[(x > 0) & (x <= 1)] = 1.0
    big = x > 1
    out[big] = 1.0 / x[big]
    return out


REFERENCE = {
    "sigmoid": lambda x, alpha: _sig_deriv(x, alpha),
    "piecewise_quadratic": lambda x, alpha: np.where(
        np.abs(x) > 1.0 / alpha, 0.0, alpha - alpha ** 2 * np.abs(x)),
    "piecewise_exp": lambda x, alpha: alpha / 2.0 * np.exp(-alpha * np.abs(x)),
    "soft_sign": lambda x, alpha: alpha / (2.0 * (1.0 + np.abs(alpha * x)) ** 2),
    "arctan": lambda x, alpha: alpha / (2.0 * (1.0 + (np.pi / 2.0 * alpha * x) ** 2)),
    "nonzero_sign_log": lambda x, alpha: 1.0 / (1.0 / alpha + np.abs(x)),
    "erf": lambda x, alpha: alpha / np.sqrt(np.pi) * np.exp(-(alpha ** 2) * x ** 2),
    "piecewise_leaky_relu": lambda x, c, w: np.where(np.abs(x) <= w, 1.0 / w, c),
    "squarewave_fourier_series": _squarewave,
    "s2nn": lambda x, alpha, beta: np.where(
        x < 0, _sig_deriv(x, alpha), beta / (np.abs(x) + 1.0)),
    "q_pseudo_spike": lambda x, alpha: np.power(1.0 + 2.0 * np.abs(x) / (alpha - 1.0), -alpha),
    "leaky_relu": lambda x, alpha, beta: np.where(x >= 0, beta, alpha),
    "log_tailed_relu": _log_tailed,
    "relu_grad": lambda x, alpha, width: np.clip(alpha * (width - np.abs(x)), 0.0, None),
    "gaussian_grad": lambda x, sigma, alpha: alpha * _npdf(x, 0.0, sigma),
    "multi_gaussian_grad": lambda x, h, s, sigma, scale: scale * (
        (1 + h) * _npdf(x, 0.0, sigma) - h * _npdf(x, sigma, s * sigma)
        - h * _npdf(x, -sigma, s * sigma)),
    "inv_square_grad": lambda x, alpha: 1.0 / (alpha * np.abs(x) + 1.0) ** 2,
    "slayer_grad": lambda x, alpha: np.exp(-alpha * np.abs(x)),
}

# the braintools / brainstate defaults
DEFAULTS = {
    "sigmoid": dict(alpha=4.0),
    "piecewise_quadratic": dict(alpha=1.0),
    "piecewise_exp": dict(alpha=1.0),
    "soft_sign": dict(alpha=1.0),
    "arctan": dict(alpha=1.0),
    "nonzero_sign_log": dict(alpha=1.0),
    "erf": dict(alpha=1.0),
    "piecewise_leaky_relu": dict(c=0.01, w=1.0),
    "squarewave_fourier_series": dict(n=2, t_period=8.0),
    "s2nn": dict(alpha=4.0, beta=1.0),
    "q_pseudo_spike": dict(alpha=2.0),
    "leaky_relu": dict(alpha=0.1, beta=1.0),
    "log_tailed_relu": dict(alpha=0.0),
    "relu_grad": dict(alpha=0.3, width=1.0),
    "gaussian_grad": dict(sigma=0.5, alpha=0.5),
    "multi_gaussian_grad": dict(h=0.15, s=6.0, sigma=0.5, scale=0.5),
    "inv_square_grad": dict(alpha=100.0),
    "slayer_grad": dict(alpha=1.0),
}

# a non-default set for every surrogate (every field changed)
OTHER = {
    "sigmoid": dict(alpha=1.5),
    "piecewise_quadratic": dict(alpha=2.0),
    "piecewise_exp": dict(alpha=3.0),
    "soft_sign": dict(alpha=2.5),
    "arctan": dict(alpha=3.0),
    "nonzero_sign_log": dict(alpha=4.0),
    "erf": dict(alpha=2.0),
    "piecewise_leaky_relu": dict(c=0.1, w=0.5),
    "squarewave_fourier_series": dict(n=5, t_period=6.0),
    "s2nn": dict(alpha=2.0, beta=0.5),
    "q_pseudo_spike": dict(alpha=3.5),
    "leaky_relu": dict(alpha=0.02, beta=0.7),
    "log_tailed_relu": dict(alpha=0.2),
    "relu_grad": dict(alpha=1.0, width=2.0),
    "gaussian_grad": dict(sigma=0.3, alpha=1.0),
    "multi_gaussian_grad": dict(h=0.3, s=4.0, sigma=0.8, scale=1.0),
    "inv_square_grad": dict(alpha=3.0),
    "slayer_grad": dict(alpha=2.5),
}


def _grad_of_sum(surrogate, x):
    return np.asarray(jax.grad(lambda v: jnp.sum(surrogate(v)))(jnp.asarray(x)))


def test_registry_has_exactly_the_catalogue():
    assert set(SURROGATES) == EXPECTED
    assert len(SURROGATES) == 18
    assert set(REFERENCE) == set(DEFAULTS) == set(OTHER) == EXPECTED


@pytest.mark.parametrize("name", NAMES)
def test_class_metadata_and_defaults(name):
    cls = SURROGATES[name]
    assert issubclass(cls, Surrogate) and cls.name == name
    assert cls.doc.startswith("g(x) =") and "\n" not in cls.doc
    assert "g(x)" in cls.__doc__ and "Reference" in cls.__doc__
    assert cls().params() == DEFAULTS[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_is_exact_heaviside(name, dtype):
    x = np.concatenate([GRID, [-np.inf, np.inf]]).astype(dtype)
    assert np.sum(x == 0) >= 2 and np.any((x < 0) & (x > -1e-30))  # +-0 and -tiny survive
    y = np.asarray(get_surrogate(name)(jnp.asarray(x)))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, (x >= 0).astype(dtype))
    assert set(np.unique(y)) <= {0.0, 1.0}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", ["default", "other"])
def test_gradient_matches_numpy_formula(name, which):
    params = (DEFAULTS if which == "default" else OTHER)[name]
    got = _grad_of_sum(get_surrogate(name, **params), GRID)
    want = REFERENCE[name](GRID.copy(), **params)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_jit_vmap_and_static_argument(name):
    surrogate = get_surrogate(name, **OTHER[name])
    want = REFERENCE[name](GRID.copy(), **OTHER[name])
    per_point = jax.vmap(jax.grad(surrogate))(jnp.asarray(GRID))
    np.testing.assert_allclose(per_point, want, rtol=1e-6, atol=1e-12)

    @jax.jit
    def jitted(v):
        return jax.grad(lambda u: jnp.sum(surrogate(u)))(v)

    np.testing.assert_allclose(jitted(jnp.asarray(GRID)), want, rtol=1e-6, atol=1e-12)

    # as a static argument (how core.integrate.simulate uses it): equal instances hit the cache
    static = jax.jit(lambda s, v: jax.vmap(jax.grad(s))(v), static_argnums=0)
    twin = get_surrogate(name, **OTHER[name])
    assert twin == surrogate and hash(twin) == hash(surrogate)
    np.testing.assert_allclose(static(twin, jnp.asarray(GRID)), want, rtol=1e-6, atol=1e-12)
    spikes = jax.jit(jax.vmap(surrogate))(jnp.asarray(GRID))
    np.testing.assert_array_equal(spikes, (GRID >= 0).astype(float))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_finite_on_wide_grid_and_keeps_dtype(name):
    for params in (DEFAULTS[name], OTHER[name]):
        surrogate = get_surrogate(name, **params)
        g = _grad_of_sum(surrogate, WIDE)
        assert np.all(np.isfinite(g)), WIDE[~np.isfinite(g)]
        x32 = GRID.astype(np.float32)  # -1e-300 becomes -0.0 here
        g32 = jax.grad(lambda v, s=surrogate: jnp.sum(s(v)))(jnp.asarray(x32))
        assert g32.dtype == jnp.float32
        np.testing.assert_allclose(g32, REFERENCE[name](x32.astype(np.float64), **params),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_second_derivative_finite_including_zero(name):
    surrogate = get_surrogate(name)
    x = jnp.asarray(np.concatenate([GRID, [-1e3, 1e3]]))
    second = jax.grad(lambda v: jnp.sum(jax.vmap(jax.grad(surrogate))(v)))(x)
    assert np.all(np.isfinite(np.asarray(second)))


def _g(name, x, **params):
    return float(jax.grad(get_surrogate(name, **params))(float(x)))


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_parameter_changes_the_gradient(name):
    base = _grad_of_sum(get_surrogate(name), GRID)
    for field, value in OTHER[name].items():
        changed = _grad_of_sum(get_surrogate(name, **{field: value}), GRID)
        assert np.max(np.abs(changed - base)) > 1e-6, field


# (name, parameter, smaller value, larger value, probe x, larger value raises the peak at 0)
SHARPER = [
    ("sigmoid", "alpha", 2.0, 8.0, 0.5, True),
    ("piecewise_quadratic", "alpha", 1.0, 2.0, 0.25, True),
    ("piecewise_exp", "alpha", 1.0, 2.0, 0.5, True),
    ("soft_sign", "alpha", 1.0, 2.0, 0.5, True),
    ("arctan", "alpha", 1.0, 2.0, 0.5, True),
    ("nonzero_sign_log", "alpha", 1.0, 2.0, 0.5, True),
    ("erf", "alpha", 1.0, 2.0, 0.5, True),
    ("s2nn", "alpha", 2.0, 8.0, -0.5, False),
    ("q_pseudo_spike", "alpha", 2.0, 4.0, 3.0, False),
    ("inv_square_grad", "alpha", 10.0, 100.0, 0.05, False),
    ("slayer_grad", "alpha", 1.0, 2.0, 0.5, False),
]


@pytest.mark.parametrize("name,field,small,large,probe,peak_rises", SHARPER)
def test_larger_alpha_gives_sharper_peak(name, field, small, large, probe, peak_rises):
    lo = {field: small}
    hi = {field: large}
    assert _g(name, probe, **hi) / _g(name, 0.0, **hi) < _g(name, probe, **lo) / _g(name, 0.0, **lo)
    if peak_rises:
        assert _g(name, 0.0, **hi) > _g(name, 0.0, **lo)


def test_width_and_scale_parameters():
    # narrower window / smaller sigma / shorter period: higher peak, less gradient off-centre
    assert _g("piecewise_leaky_relu", 0.0, w=0.5) == pytest.approx(2.0)
    assert _g("piecewise_leaky_relu", 0.75, w=0.5, c=0.05) == pytest.approx(0.05)
    assert _g("gaussian_grad", 0.0, sigma=0.25) > _g("gaussian_grad", 0.0, sigma=0.5)
    assert _g("gaussian_grad", 1.0, sigma=0.25) < _g("gaussian_grad", 1.0, sigma=0.5)
    assert _g("squarewave_fourier_series", 0.0, n=4) == pytest.approx(4 * 4 / 8.0)
    assert _g("relu_grad", 0.0, alpha=0.3, width=2.0) == pytest.approx(0.6)
    assert _g("relu_grad", 1.5, width=1.0) == 0.0 < _g("relu_grad", 1.5, width=2.0)
    # deeper side lobes with larger h; negative away from threshold
    assert _g("multi_gaussian_grad", 1.5, h=0.3) < _g("multi_gaussian_grad", 1.5, h=0.15) < 0
    assert _g("leaky_relu", -1.0, alpha=0.0) == 0.0 and _g("leaky_relu", 0.0, beta=0.5) == 0.5
    assert _g("log_tailed_relu", 4.0) == pytest.approx(0.25)
    assert _g("s2nn", 1.0, beta=2.0) == pytest.approx(1.0)


def test_unit_area_surrogates_integrate_to_one():
    # the derivatives of smooth step approximations integrate to 1 over the real line
    x = np.linspace(-60.0, 60.0, 240001)
    for name in ("sigmoid", "piecewise_quadratic", "piecewise_exp", "erf", "gaussian_grad"):
        params = {"alpha": 1.0} if name == "gaussian_grad" else {}
        g = REFERENCE[name](x, **{**DEFAULTS[name], **params})
        assert np.trapezoid(g, x) == pytest.approx(1.0, abs=1e-4), name
        got = _grad_of_sum(get_surrogate(name, **params), x[::400])
        np.testing.assert_allclose(got, g[::400], rtol=1e-6, atol=1e-12)


def test_get_surrogate_errors():
    with pytest.raises(ValueError) as info:
        get_surrogate("nope")
    for name in EXPECTED:
        assert name in str(info.value)
    with pytest.raises(TypeError):
        get_surrogate("sigmoid", beta=1.0)
    for name, bad in [("q_pseudo_spike", dict(alpha=1.0)), ("gaussian_grad", dict(sigma=0.0)),
                      ("piecewise_leaky_relu", dict(w=-1.0)), ("relu_grad", dict(width=0.0)),
                      ("squarewave_fourier_series", dict(n=0)),
                      ("squarewave_fourier_series", dict(n=2.5))]:
        with pytest.raises(ValueError):
            get_surrogate(name, **bad)


def test_instances_are_immutable_and_distinct_by_class():
    s = get_surrogate("slayer_grad")
    with pytest.raises(AttributeError):
        s.alpha = 2.0  # type: ignore[misc]
    assert get_surrogate("slayer_grad") != get_surrogate("piecewise_exp")  # same fields
    assert get_surrogate("slayer_grad", alpha=2.0) != s


def test_cli_lists_all_surrogates(capsys):
    from workbench.cli import main

    assert main(["list", "surrogates", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 18
    assert {r["name"] for r in rows} == EXPECTED
    assert all(r["description"].startswith("g(x) =") for r in rows)


def test_sanity_of_references():
    # guard the references themselves with a few hand-computed values
    assert REFERENCE["arctan"](np.array([0.0]), alpha=1.0)[0] == 0.5
    assert REFERENCE["q_pseudo_spike"](np.array([1.0]), alpha=2.0)[0] == pytest.approx(1 / 9)
    assert REFERENCE["erf"](np.array([0.0]), alpha=1.0)[0] == pytest.approx(1 / math.sqrt(math.pi))
    assert REFERENCE["squarewave_fourier_series"](np.array([0.0]), n=2, t_period=8.0)[0] == 1.0
