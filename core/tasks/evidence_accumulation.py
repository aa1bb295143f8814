"""The evidence-accumulation task (seed paper, Appendix F.2; Morcos & Harvey 2016, e-prop).

A trial shows ``n_cues`` cues, each ``cue_ms`` long and followed by a ``gap_ms`` pause; each cue
is on the left or on the right. After a ``delay_ms`` delay a recall cue lasts ``recall_ms``; the
network must then report the side that showed more cues. The input is ``4 * n_group`` Poisson
neurons in four groups (left, right, recall, background):

* left / right group: ``rate_cue`` Hz while a cue of that side is shown, silent otherwise;
* recall group: ``rate_cue`` Hz during the recall window (the last ``recall_ms``);
* background group: ``rate_bg`` Hz throughout.

Cue sides follow the reference implementations: each trial draws its probability of a left cue
from ``cue_probabilities`` (default 0.3 or 0.7), then each cue's side independently. The label is
the side with more *realised* cues (0 = left, 1 = right); an even ``n_cues`` could tie, and a tie
is broken by flipping the last cue (so every label is defined by the cues shown).

Everything is a pure function of JAX keys (usable under ``jit``): trial ``i`` of the stream
``seed`` has the key ``fold_in(key(seed), i)``; its cue sides come from one slot of that key and
its input spikes at step ``t`` from slot ``t``, so the input can be generated inside the time loop
(:func:`step_input`) or as a whole ``(T, batch, n_in)`` array of 0/1 spikes (:func:`materialise`)
with the same values. The held-out set is the stream ``heldout_seed``, the same on every run.
Time is in steps of ``dt`` ms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.lazy import jax, jnp

from ..errors import ParameterError

Array = Any

LEFT, RIGHT = 0, 1
GROUPS = ("left", "right", "recall", "background")
_SIDES_SLOT = 0x7FFFFFFF  # fold_in slot of a trial key that draws its cue sides (steps use t)


@dataclass(frozen=True)
class EvidenceTask:
    """Settings of the evidence-accumulation task (durations in ms, rates in Hz)."""

    n_cues: int = 7
    cue_ms: float = 100.0
    gap_ms: float = 50.0
    delay_ms: float = 1000.0
    recall_ms: float = 150.0
    n_group: int = 25
    rate_cue: float = 40.0
    rate_bg: float = 10.0
    cue_probabilities: tuple[float, ...] = (0.3, 0.7)
    dt: float = 1.0
    heldout_seed: int = 20_240_101
    trial_ms: float | None = None  # when given, the delay is what the cues and recall leave

    def __post_init__(self):
        object.__setattr__(self, "cue_probabilities", tuple(float(p) for p in
                                                            self.cue_probabilities))
        if int(self.n_cues) != self.n_cues or self.n_cues < 1:
            raise ParameterError(f"task: n_cues must be a whole number >= 1, got {self.n_cues}")
        if int(self.n_group) != self.n_group or self.n_group < 1:
            raise ParameterError(f"task: n_group must be a whole number >= 1, got {self.n_group}")
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ParameterError(f"task: dt must be > 0 ms, got {self.dt}")
        for name in ("cue_ms", "recall_ms"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= self.dt):
                raise ParameterError(f"task: {name} must be at least one step ({self.dt} ms), "
                                     f"got {v}")
        for name in ("gap_ms", "delay_ms", "rate_cue", "rate_bg"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ParameterError(f"task: {name} must be >= 0, got {v}")
        for name in ("rate_cue", "rate_bg"):
            if getattr(self, name) * self.dt / 1000.0 > 1.0:
                raise ParameterError(f"task: {name} = {getattr(self, name)} Hz exceeds one spike "
                                     f"per {self.dt} ms step")
        if self.trial_ms is not None:
            cues_ms = self.n_cues * (self.cue_ms + self.gap_ms)
            delay = float(self.trial_ms) - cues_ms - self.recall_ms
            if not math.isfinite(delay) or delay < 0:
                raise ParameterError(
                    f"task: a trial of {self.trial_ms} ms is shorter than the cue period "
                    f"({self.n_cues} cues x {self.cue_ms + self.gap_ms} ms = {cues_ms} ms) plus "
                    f"the recall window ({self.recall_ms} ms)")
            object.__setattr__(self, "delay_ms", delay)
            object.__setattr__(self, "trial_ms", None)
        if not self.cue_probabilities or not all(0.0 <= p <= 1.0 for p in
                                                  self.cue_probabilities):
            raise ParameterError("task: cue_probabilities must be probabilities in [0, 1]")

    # ---- schedule (in steps) -----------------------------------------------------------------
    def steps(self, ms: float) -> int:
        return int(round(ms / self.dt))

    @property
    def cue_steps(self) -> int:
        return self.steps(self.cue_ms)

    @property
    def period_steps(self) -> int:
        """One cue plus its gap."""
        return self.steps(self.cue_ms + self.gap_ms)

    @property
    def cue_period_steps(self) -> int:
        """Steps from the first cue's start to the end of the last gap."""
        return self.n_cues * self.period_steps

    @property
    def recall_steps(self) -> int:
        return self.steps(self.recall_ms)

    @property
    def recall_start(self) -> int:
        return self.cue_period_steps + self.steps(self.delay_ms)

    @property
    def T(self) -> int:
        """Steps per trial."""
        return self.recall_start + self.recall_steps

    @property
    def n_in(self) -> int:
        return 4 * int(self.n_group)

    def group_slice(self, name: str) -> slice:
        g = int(self.n_group)
        i = GROUPS.index(name)
        return slice(i * g, (i + 1) * g)

    def cue_index(self) -> np.ndarray:
        """(T,) int: the cue shown at each step, -1 outside cues (gaps, delay, recall)."""
        t = np.arange(self.T)
        c = t // self.period_steps
        on = (c < self.n_cues) & (t % self.period_steps < self.cue_steps)
        return np.where(on, c, -1).astype(np.int32)

    def recall_mask(self) -> np.ndarray:
        """(T,) float32: 1 in the recall window (where the loss and the decision are read)."""
        return (np.arange(self.T) >= self.recall_start).astype(np.float32)

    def check_steps(self, T: int | None = None) -> None:
        """Refuse a trial length shorter than the cue period plus the recall window."""
        T = self.T if T is None else int(T)
        need = self.cue_period_steps + self.recall_steps
        if T < need:
            raise ParameterError(f"task: a trial of {T} steps is shorter than the cue period "
                                 f"({self.cue_period_steps} steps) plus recall "
                                 f"({self.recall_steps})")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cue_probabilities"] = list(self.cue_probabilities)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EvidenceTask:
        return cls(**{**d, "cue_probabilities": tuple(d.get("cue_probabilities", (0.3, 0.7)))})


def sample_sides(key, task: EvidenceTask, batch: int) -> Array:
    """(batch, n_cues) int32 cue sides (0 left, 1 right); ties flipped on the last cue."""
    k_p, k_s = jax.random.split(key)
    probs = jnp.asarray(task.cue_probabilities, jnp.float32)
    p_left = probs[jax.random.randint(k_p, (batch,), 0, probs.shape[0])]
    left = jax.random.uniform(k_s, (batch, task.n_cues)) < p_left[:, None]
    sides = jnp.where(left, LEFT, RIGHT).astype(jnp.int32)
    n_right = sides.sum(axis=1)
    tie = 2 * n_right == task.n_cues
    return sides.at[:, -1].set(jnp.where(tie, 1 - sides[:, -1], sides[:, -1]))


def labels_from_sides(sides: Array) -> Array:
    """1 (right) where more cues were on the right, else 0 (left)."""
    n = sides.shape[-1]
    return (2 * jnp.sum(sides, axis=-1) > n).astype(jnp.int32)


def input_rates(task: EvidenceTask, sides: Array, t) -> Array:
    """(batch, 4) rates in Hz of the four groups at step ``t`` (traced or static) for cue sides
    ``(batch, n_cues)``."""
    cue = jnp.asarray(task.cue_index())[t]
    on = cue >= 0
    side = sides[:, jnp.maximum(cue, 0)]
    left = on & (side == LEFT)
    right = on & (side == RIGHT)
    recall = jnp.broadcast_to(t >= task.recall_start, left.shape)
    bg = jnp.ones_like(left)
    return jnp.stack([left * task.rate_cue, right * task.rate_cue, recall * task.rate_cue,
                      bg * task.rate_bg], axis=-1).astype(jnp.float32)


def step_input(task: EvidenceTask, keys, sides: Array, t, dtype=np.float32) -> Array:
    """Input spikes (batch, n_in) at step ``t``: neuron ``k`` of trial ``b`` fires when
    ``uniform(fold_in(keys[b], t))[k] < rate * dt``. Generated inside the time loop, so a
    trial's input never has to be held in memory."""
    p = jnp.repeat(input_rates(task, sides, t), int(task.n_group), axis=-1) * (task.dt / 1000.0)
    u = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, t), (task.n_in,)))(keys)
    return (u < p).astype(dtype)


def trial_batch(seed: int, index, task: EvidenceTask, batch: int):
    """``(keys, sides, labels)`` of batch ``index`` of the trial stream ``seed``: trial ``b`` is
    trial ``index * batch + b`` with its own key, so a held-out set does not depend on the batch
    size it is evaluated with. ``index`` may be traced."""
    base = jax.random.key(seed)
    ids = index * batch + jnp.arange(batch)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(ids)
    sides = jax.vmap(lambda k: sample_sides(jax.random.fold_in(k, _SIDES_SLOT), task, 1)[0])(keys)
    return keys, sides, labels_from_sides(sides)


def materialise(task: EvidenceTask, keys, sides: Array, dtype=np.float32) -> Array:
    """The whole input (T, batch, n_in) of a batch, step by step as :func:`step_input`."""
    return jax.vmap(lambda t: step_input(task, keys, sides, t, dtype))(jnp.arange(task.T))


def sample_batch(seed: int, index, task: EvidenceTask, batch: int, dtype=np.float32):
    """``(x (T, batch, n_in), labels (batch,), sides (batch, n_cues))`` of one batch."""
    keys, sides, labels = trial_batch(seed, index, task, batch)
    return materialise(task, keys, sides, dtype), labels, sides
