"""Surrogate-gradient spike functions.

Every surrogate is exactly the Heaviside step forward (``H(x) = 1`` for ``x >= 0`` else ``0``)
and uses a smooth pseudo-derivative ``g(x)`` backward (``jax.custom_jvp``). ``x`` is the distance
to threshold (for scaled models ``V - V_th``). Shape parameters are dataclass fields.

The catalogue is the 18 surrogates of the brainstate / braintools family (the seed paper's
Table S1), with the same default shape parameters. Where the braintools code and its own stated
formula disagree we follow the formula (the derivative of the stated smooth "original"
function): ``piecewise_quadratic`` uses ``alpha - alpha**2 |x|``, ``q_pseudo_spike`` uses
``2|x| / (alpha - 1)``, ``gaussian_grad`` is the normal density ``exp(-x**2 / (2 sigma**2))``
and ``squarewave_fourier_series`` sums ``n`` cosine terms.

Each ``grad`` is written so that differentiating it again (gradients of gradients) gives finite
values everywhere: no division that can blow up in a ``where`` branch that is not taken.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, fields
from typing import ClassVar

from core.lazy import jax, jnp

SURROGATES: dict[str, type[Surrogate]] = {}


def register_surrogate(cls):
    """Make ``cls`` a frozen dataclass (hashable by value: usable as a jit static argument)."""
    cls = dataclass(frozen=True)(cls)
    SURROGATES[cls.name] = cls
    return cls


def heaviside(x):
    return jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x))


class Surrogate(abc.ABC):
    """Heaviside forward, ``grad(x)`` backward. Subclasses set ``name``, ``doc`` and ``grad``.

    ``_positive`` names the shape parameters that must be strictly positive (widths, scales,
    rates that appear in a denominator); they are checked when the surrogate is built.
    """

    name: ClassVar[str]
    doc: ClassVar[str]
    _positive: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        for pname in self._positive:
            value = getattr(self, pname)
            if isinstance(value, (int, float)) and not value > 0:
                raise ValueError(f"surrogate {self.name!r}: {pname} must be > 0, got {value!r}")

    @abc.abstractmethod
    def grad(self, x):
        """The surrogate derivative dH/dx used in the backward pass."""

    def __call__(self, x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            x = x.astype(jnp.result_type(float))
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


def _const(value, x):
    """``value`` broadcast to the shape and dtype of ``x`` (keeps float32 networks float32)."""
    return jnp.full_like(x, value)


def _normal_pdf(x, mean, std):
    return jnp.exp(-0.5 * ((x - mean) / std) ** 2) / (math.sqrt(2.0 * math.pi) * std)


@register_surrogate
class Sigmoid(Surrogate):
    r"""Derivative of a logistic function.

    ``g(x) = alpha * s(alpha x) * (1 - s(alpha x))`` with ``s(z) = 1 / (1 + exp(-z))``.

    References: Zenke & Ganguli (2018), SuperSpike, Neural Comput. 30:1514.
    """

    name: ClassVar[str] = "sigmoid"
    doc: ClassVar[str] = "g(x) = alpha * s(alpha x) * (1 - s(alpha x)), s the logistic function"
    alpha: float = 4.0

    def grad(self, x):
        s = jax.nn.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)


@register_surrogate
class PiecewiseQuadratic(Surrogate):
    r"""Triangle-shaped derivative of a piecewise quadratic.

    ``g(x) = alpha - alpha**2 |x|`` for ``|x| <= 1/alpha``, else ``0`` (peak ``alpha``, unit area).

    References: Esser et al. (2016) PNAS 113:11441; Wu et al. (2018) Front. Neurosci. 12:331.
    """

    name: ClassVar[str] = "piecewise_quadratic"
    doc: ClassVar[str] = "g(x) = max(alpha - alpha^2 |x|, 0)"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return jnp.maximum(self.alpha - self.alpha ** 2 * jnp.abs(x), 0.0)


@register_surrogate
class PiecewiseExp(Surrogate):
    r"""Laplace-shaped derivative.

    ``g(x) = (alpha / 2) exp(-alpha |x|)``.

    References: Neftci, Mostafa & Zenke (2019) IEEE Signal Process. Mag. 36:51.
    """

    name: ClassVar[str] = "piecewise_exp"
    doc: ClassVar[str] = "g(x) = alpha/2 * exp(-alpha |x|)"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return 0.5 * self.alpha * jnp.exp(-self.alpha * jnp.abs(x))


@register_surrogate
class SoftSign(Surrogate):
    r"""Derivative of the soft sign ``(alpha x / (1 + |alpha x|) + 1) / 2``.

    ``g(x) = alpha / (2 (1 + alpha |x|)**2)``.

    References: SpikingJelly surrogate catalogue (Fang et al. 2023, Sci. Adv. 9:eadi1480).
    """

    name: ClassVar[str] = "soft_sign"
    doc: ClassVar[str] = "g(x) = alpha / (2 (1 + alpha |x|)^2)"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return 0.5 * self.alpha / (1.0 + self.alpha * jnp.abs(x)) ** 2


@register_surrogate
class Arctan(Surrogate):
    r"""Derivative of ``arctan(pi alpha x / 2) / pi + 1/2``.

    ``g(x) = alpha / (2 (1 + (pi alpha x / 2)**2))``.

    References: Fang et al. (2021) ICCV, "Incorporating learnable membrane time constant".
    """

    name: ClassVar[str] = "arctan"
    doc: ClassVar[str] = "g(x) = alpha / (2 (1 + (pi/2 alpha x)^2))"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return 0.5 * self.alpha / (1.0 + (0.5 * math.pi * self.alpha * x) ** 2)


@register_surrogate
class NonzeroSignLog(Surrogate):
    r"""Derivative of ``sign(x) log(1 + alpha |x|)`` (sign(0) = 1).

    ``g(x) = 1 / (1/alpha + |x|) = alpha / (1 + alpha |x|)``.

    References: SpikingJelly surrogate catalogue (Fang et al. 2023, Sci. Adv. 9:eadi1480).
    """

    name: ClassVar[str] = "nonzero_sign_log"
    doc: ClassVar[str] = "g(x) = 1 / (1/alpha + |x|)"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return self.alpha / (1.0 + self.alpha * jnp.abs(x))


@register_surrogate
class Erf(Surrogate):
    r"""Derivative of ``erfc(-alpha x) / 2``.

    ``g(x) = alpha / sqrt(pi) * exp(-alpha**2 x**2)``.

    References: Esser et al. (2015) NeurIPS 28:1117; Wu et al. (2018) Front. Neurosci. 12:331.
    """

    name: ClassVar[str] = "erf"
    doc: ClassVar[str] = "g(x) = alpha / sqrt(pi) * exp(-alpha^2 x^2)"
    _positive: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: float = 1.0

    def grad(self, x):
        return self.alpha / math.sqrt(math.pi) * jnp.exp(-(self.alpha * x) ** 2)


@register_surrogate
class PiecewiseLeakyRelu(Surrogate):
    r"""Box derivative with a leak outside the window.

    ``g(x) = 1/w`` for ``|x| <= w``, else ``c``.

    References: Yin et al. (2017) BioCAS; Wu et al. (2018) Front. Neurosci. 12:331;
    Kaiser, Mostafa & Neftci (2020) Front. Neurosci. 14:424 (DECOLLE).
    """

    name: ClassVar[str] = "piecewise_leaky_relu"
    doc: ClassVar[str] = "g(x) = 1/w if |x| <= w else c"
    _positive: ClassVar[tuple[str, ...]] = ("w",)
    c: float = 0.01
    w: float = 1.0

    def grad(self, x):
        return jnp.where(jnp.abs(x) <= self.w, _const(1.0 / self.w, x), _const(self.c, x))


@register_surrogate
class SquarewaveFourierSeries(Surrogate):
    r"""Derivative of the ``n``-term Fourier series of a square wave of period ``T``.

    ``g(x) = (4/T) * sum_{i=1..n} cos((2i - 1) 2 pi x / T)`` (``T = t_period``).

    References: SpikingJelly surrogate catalogue (Fang et al. 2023, Sci. Adv. 9:eadi1480).
    """

    name: ClassVar[str] = "squarewave_fourier_series"
    doc: ClassVar[str] = "g(x) = 4/T * sum_{i=1..n} cos((2i-1) 2 pi x / T), T = t_period"
    _positive: ClassVar[tuple[str, ...]] = ("n", "t_period")
    n: int = 2
    t_period: float = 8.0

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.n, float) and not float(self.n).is_integer():
            raise ValueError(f"surrogate {self.name!r}: n must be a whole number, got {self.n!r}")

    def grad(self, x):
        w = 2.0 * math.pi / self.t_period
        total = jnp.zeros_like(x)
        for i in range(1, int(self.n) + 1):
            total = total + jnp.cos((2 * i - 1) * w * x)
        return (4.0 / self.t_period) * total


@register_surrogate
class S2NN(Surrogate):
    r"""Asymmetric derivative: sigmoid below threshold, logarithmic tail above.

    ``g(x) = alpha s(alpha x)(1 - s(alpha x))`` for ``x < 0``, ``beta / (x + 1)`` for ``x >= 0``.

    References: Suetake et al. (2023) Neural Netw. 159:208, "S2NN: time step reduction of
    spiking surrogate gradients for training energy efficient single-step neural networks".
    """

    name: ClassVar[str] = "s2nn"
    doc: ClassVar[str] = "g(x) = alpha s(alpha x)(1 - s(alpha x)) if x < 0 else beta / (x + 1)"
    alpha: float = 4.0
    beta: float = 1.0

    def grad(self, x):
        s = jax.nn.sigmoid(self.alpha * x)
        below = self.alpha * s * (1.0 - s)
        above = self.beta / (jnp.maximum(x, 0.0) + 1.0)  # no pole at x = -1 in the unused branch
        return jnp.where(x < 0, below, above)


@register_surrogate
class QPseudoSpike(Surrogate):
    r"""q-PseudoSpike: a derivative whose tail fatness is set by ``alpha`` (``q``, > 1).

    ``g(x) = (1 + 2 |x| / (alpha - 1)) ** (-alpha)``; peak 1, tail ``~ |x|**-alpha``.

    References: Herranz-Celotti & Rouat (2022) arXiv:2202.00282, "Surrogate gradients design".
    """

    name: ClassVar[str] = "q_pseudo_spike"
    doc: ClassVar[str] = "g(x) = (1 + 2|x| / (alpha - 1))^(-alpha), alpha > 1"
    alpha: float = 2.0

    def __post_init__(self):
        if isinstance(self.alpha, (int, float)) and not self.alpha > 1:
            raise ValueError(f"surrogate {self.name!r}: alpha must be > 1, got {self.alpha!r}")

    def grad(self, x):
        return (1.0 + 2.0 * jnp.abs(x) / (self.alpha - 1.0)) ** (-self.alpha)


@register_surrogate
class LeakyRelu(Surrogate):
    r"""Derivative of a leaky ReLU: slope ``alpha`` below threshold, ``beta`` at and above.

    ``g(x) = alpha`` for ``x < 0``, ``beta`` for ``x >= 0``.

    References: brainstate / braintools surrogate catalogue (Wang et al., BrainPy).
    """

    name: ClassVar[str] = "leaky_relu"
    doc: ClassVar[str] = "g(x) = alpha if x < 0 else beta"
    alpha: float = 0.1
    beta: float = 1.0

    def grad(self, x):
        return jnp.where(x < 0, _const(self.alpha, x), _const(self.beta, x))


@register_surrogate
class LogTailedRelu(Surrogate):
    r"""Derivative of the log-tailed ReLU (``alpha x``; ``x``; ``log x`` for ``x > 1``).

    ``g(x) = alpha`` for ``x <= 0``, ``1`` for ``0 < x <= 1``, ``1/x`` for ``x > 1``.

    References: Cai et al. (2017) CVPR, "Deep learning with low precision by half-wave
    Gaussian quantization".
    """

    name: ClassVar[str] = "log_tailed_relu"
    doc: ClassVar[str] = "g(x) = alpha if x <= 0; 1 if 0 < x <= 1; 1/x if x > 1"
    alpha: float = 0.0

    def grad(self, x):
        tail = 1.0 / jnp.maximum(x, 1.0)  # equals 1 on (0, 1], 1/x beyond; no pole at 0
        return jnp.where(x > 0, tail, _const(self.alpha, x))


@register_surrogate
class ReluGrad(Surrogate):
    r"""Triangular derivative of height ``alpha * width`` and half-width ``width``.

    ``g(x) = alpha * max(width - |x|, 0)``.

    References: Neftci, Mostafa & Zenke (2019) IEEE Signal Process. Mag. 36:51.
    """

    name: ClassVar[str] = "relu_grad"
    doc: ClassVar[str] = "g(x) = alpha * max(width - |x|, 0)"
    _positive: ClassVar[tuple[str, ...]] = ("width",)
    alpha: float = 0.3
    width: float = 1.0

    def grad(self, x):
        return self.alpha * jnp.maximum(self.width - jnp.abs(x), 0.0)


@register_surrogate
class GaussianGrad(Surrogate):
    r"""Gaussian derivative.

    ``g(x) = alpha * N(x; 0, sigma**2) = alpha exp(-x**2 / (2 sigma**2)) / (sqrt(2 pi) sigma)``.

    References: Yin, Corradi & Bohte (2021) Nat. Mach. Intell. 3:905.
    """

    name: ClassVar[str] = "gaussian_grad"
    doc: ClassVar[str] = "g(x) = alpha * exp(-x^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)"
    _positive: ClassVar[tuple[str, ...]] = ("sigma",)
    sigma: float = 0.5
    alpha: float = 0.5

    def grad(self, x):
        return self.alpha * _normal_pdf(x, 0.0, self.sigma)


@register_surrogate
class MultiGaussianGrad(Surrogate):
    r"""A central Gaussian minus two wider side Gaussians at ``+-sigma`` (negative side lobes).

    ``g(x) = scale * [(1 + h) N(x; 0, sigma) - h N(x; sigma, s sigma) - h N(x; -sigma, s sigma)]``
    with ``N(x; mu, std)`` the normal density.

    References: Yin, Corradi & Bohte (2021) Nat. Mach. Intell. 3:905.
    """

    name: ClassVar[str] = "multi_gaussian_grad"
    doc: ClassVar[str] = ("g(x) = scale [(1+h) N(x;0,sigma) - h N(x;sigma,s sigma) "
                          "- h N(x;-sigma,s sigma)]")
    _positive: ClassVar[tuple[str, ...]] = ("s", "sigma")
    h: float = 0.15
    s: float = 6.0
    sigma: float = 0.5
    scale: float = 0.5

    def grad(self, x):
        wide = self.s * self.sigma
        centre = (1.0 + self.h) * _normal_pdf(x, 0.0, self.sigma)
        sides = self.h * (_normal_pdf(x, self.sigma, wide) + _normal_pdf(x, -self.sigma, wide))
        return self.scale * (centre - sides)


@register_surrogate
class InvSquareGrad(Surrogate):
    r"""Inverse-square derivative: peak 1, ``~ 1/(alpha x)**2`` tails.

    ``g(x) = 1 / (alpha |x| + 1)**2``.

    References: brainstate / braintools surrogate catalogue (Wang et al., BrainPy).
    """

    name: ClassVar[str] = "inv_square_grad"
    doc: ClassVar[str] = "g(x) = 1 / (alpha |x| + 1)^2"
    alpha: float = 100.0

    def grad(self, x):
        return 1.0 / (self.alpha * jnp.abs(x) + 1.0) ** 2


@register_surrogate
class SlayerGrad(Surrogate):
    r"""SLAYER's exponential derivative, peak 1.

    ``g(x) = exp(-alpha |x|)``.

    References: Shrestha & Orchard (2018) NeurIPS 31:1412, "SLAYER: spike layer error
    reassignment in time".
    """

    name: ClassVar[str] = "slayer_grad"
    doc: ClassVar[str] = "g(x) = exp(-alpha |x|)"
    alpha: float = 1.0

    def grad(self, x):
        return jnp.exp(-self.alpha * jnp.abs(x))
