"""Spike-encoded data sets for feed-forward spiking stacks: scikit-learn's bundled digits.

The digits set (1797 grey-scale 8x8 images, values 0..16, ten classes) ships inside scikit-learn,
so it is available offline. Images are split once (stratified, seeded) and encoded as spike
trains over ``T`` steps, time-major ``(T, n, 64)`` uint8:

* ``rate``: at every step pixel ``i`` spikes with probability ``max_rate * x_i / 16`` (a fresh
  Bernoulli draw per step, per sample; redrawn each epoch from a seeded generator);
* ``latency``: one spike per pixel above ``1/16``, at step ``round((1 - x_i/16) * (T - 1))``
  (bright pixels first), the same every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

ENCODINGS = ("rate", "latency")


@dataclass(frozen=True)
class DigitsSplit:
    """Images scaled to [0, 1] (n, 64) and integer labels, train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_in(self) -> int:
        return int(self.x_train.shape[1])


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> DigitsSplit:
    """The scikit-learn digits, stratified into train/test with ``seed`` (needs scikit-learn:
    ``pip install 'brainfit-workbench[train]'``)."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ParameterError("the digits task needs scikit-learn: pip install "
                             "'brainfit-workbench[train]'") from None
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                              stratify=y)
    return DigitsSplit(x_tr, y_tr, x_te, y_te)


def encode(images: np.ndarray, T: int, encoding: str = "rate", *, max_rate: float = 0.5,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """Spike trains ``(T, n, n_in)`` uint8 for ``images`` (n, n_in) with values in [0, 1]."""
    if int(T) < 1:
        raise ParameterError(f"T must be >= 1 time step, got {T}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 2:
        raise ParameterError(f"images must be (n, n_in), not shape {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ParameterError("images contain NaN or infinite values")
    x = np.clip(images, 0.0, 1.0)
    if encoding == "rate":
        if not 0.0 < max_rate <= 1.0:
            raise ParameterError(f"max_rate must lie in (0, 1], got {max_rate}")
        rng = np.random.default_rng(0) if rng is None else rng
        return (rng.random((int(T), *x.shape), dtype=np.float32) < max_rate * x).astype(np.uint8)
    if encoding == "latency":
        out = np.zeros((int(T), *x.shape), np.uint8)
        on = x > 1.0 / 16.0
        t = np.rint((1.0 - x) * (int(T) - 1)).astype(np.int64)
        n_idx, i_idx = np.nonzero(on)
        out[t[n_idx, i_idx], n_idx, i_idx] = 1
        return out
    raise ParameterError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
