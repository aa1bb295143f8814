"""The injected current of a recording, read as a protocol: baseline, step epochs, or noise.

eFEL and the passive measurements need to know when a stimulus starts and stops. Nothing in a
file says so reliably (a recorded current column is noisy and sits on a holding current), so the
epochs are found from the current itself:

* the **baseline** is the median current over the first 2 % and the last 5 % of the sweep (the
  holding current, which may be nonzero: about -0.066 nA in the INCF 2007 files);
* the current, smoothed with a 1 ms boxcar, is cut into **segments** of constant level where it
  does not jump by more than a tolerance (5 robust noise SDs of the smoothed current, at least
  0.5 pA) over ±1 ms; segments closer than the tolerance in level are merged;
* an **epoch** is a segment of at least 20 ms whose level differs from the baseline by more than
  the tolerance;
* a sweep whose current is not piecewise constant (less than 60 % of its samples in stable
  segments, or large residuals about the segment levels) is **fluctuating**; one with no epoch
  is constant (``kind == "none"``).

When several step sweeps of equal length are given, the **test step** of each sweep is the part
of the protocol whose level varies across sweeps (a prepulse repeated in every sweep is not the
test step); otherwise it is the sweep's largest sustained deviation (largest |amplitude|, then
longest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

MIN_EPOCH_MS = 20.0
MIN_SEGMENT_MS = 2.0


@dataclass(frozen=True)
class Segment:
    i0: int          # first sample
    i1: int          # one past the last sample
    level: float     # nA relative to the baseline


@dataclass(frozen=True)
class Window:
    i0: int
    i1: int
    amplitude: float  # nA relative to the baseline


@dataclass(frozen=True)
class SweepStimulus:
    kind: str                        # "steps", "fluctuating", "none"
    baseline: float                  # nA
    tol: float                       # nA: smallest level difference that counts
    segments: tuple[Segment, ...]    # tile the sweep (steps/none only)
    epochs: tuple[Segment, ...]      # sustained deviations from the baseline
    test: tuple[Window, ...] = ()    # the sweep's test step (steps only)

    @property
    def amplitude(self) -> float | None:
        """The test step's amplitude (nA relative to the baseline), None without one."""
        if not self.test:
            return None
        longest = max(self.test, key=lambda w: w.i1 - w.i0)
        return longest.amplitude

    def level_at(self, i0: int, i1: int) -> float:
        """Median segment level over samples [i0, i1)."""
        lev = np.empty(i1 - i0)
        for s in self.segments:
            lo, hi = max(s.i0, i0), min(s.i1, i1)
            if hi > lo:
                lev[lo - i0:hi - i0] = s.level
        return float(np.median(lev))

    def baseline_mask(self, n: int) -> np.ndarray:
        """Samples whose segment is at the baseline current."""
        m = np.zeros(n, bool)
        for s in self.segments:
            if abs(s.level) <= self.tol:
                m[s.i0:s.i1] = True
        return m


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


def analyse_sweep(I: np.ndarray, dt: float) -> SweepStimulus:
    I = np.asarray(I, float)
    n = I.size
    w = max(1, int(round(1.0 / dt)))
    head, tail = max(1, n // 50), max(1, n // 20)
    base = float(np.median(np.concatenate((I[:head], I[-tail:]))))
    d = np.diff(I)
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0) if n > 2 else 0.0
    tol = max(5.0 * sigma / np.sqrt(w), 5e-4)
    Is = uniform_filter1d(I, w, mode="nearest")
    if n <= 2 * w + 1:
        seg = Segment(0, n, float(np.median(I)) - base)
        return SweepStimulus("none", base, tol, (seg,), ())
    jump = np.zeros(n, bool)
    jump[w:n - w] = np.abs(Is[2 * w:] - Is[:-2 * w]) > tol
    min_seg = max(1, int(round(MIN_SEGMENT_MS / dt)))
    stable = [(a, b) for a, b in _runs(~jump) if b - a >= min_seg]
    stable_frac = sum(b - a for a, b in stable) / n
    if not stable or stable_frac < 0.6:
        return SweepStimulus("fluctuating", base, tol, (), ())
    # tile the sweep: boundaries halfway across each transition
    segs: list[list] = []
    for k, (a, b) in enumerate(stable):
        lo = 0 if k == 0 else (stable[k - 1][1] + a) // 2
        hi = n if k == len(stable) - 1 else (b + stable[k + 1][0]) // 2
        segs.append([lo, hi, float(np.mean(I[a:b])) - base, a, b])
    # refine the baseline: the mean current over the stable parts of the baseline segments
    at_base = [(a, b) for _, _, v, a, b in segs if abs(v) <= tol]
    if at_base:
        new = float(np.mean(np.concatenate([I[a:b] for a, b in at_base])))
        for sg in segs:
            sg[2] += base - new
        base = new
    segs = [sg[:3] for sg in segs]
    merged = [segs[0]]
    for s in segs[1:]:
        if abs(s[2] - merged[-1][2]) <= tol:
            m = merged[-1]
            wa, wb = m[1] - m[0], s[1] - s[0]
            merged[-1] = [m[0], s[1], (m[2] * wa + s[2] * wb) / (wa + wb)]
        else:
            merged.append(s)
    segments = tuple(Segment(int(a), int(b), float(v)) for a, b, v in merged)
    recon = np.empty(n)
    for s in segments:
        recon[s.i0:s.i1] = s.level + base
    resid = np.abs(Is - recon)[~jump]
    if float(np.sqrt(np.mean(resid ** 2))) > 3.0 * tol:
        return SweepStimulus("fluctuating", base, tol, (), ())
    min_ep = max(1, int(round(MIN_EPOCH_MS / dt)))
    epochs = tuple(s for s in segments if abs(s.level) > tol and s.i1 - s.i0 >= min_ep)
    kind = "steps" if epochs else "none"
    return SweepStimulus(kind, base, tol, segments, epochs)


def _largest(st: SweepStimulus) -> tuple[Window, ...]:
    if not st.epochs:
        return ()
    e = max(st.epochs, key=lambda s: (abs(s.level), s.i1 - s.i0))
    return (Window(e.i0, e.i1, e.level),)


def analyse_stimulus(currents: list[np.ndarray], dt: float) -> list[SweepStimulus]:
    """Analyse every sweep's current and find each step sweep's test step."""
    sts = [analyse_sweep(I, dt) for I in currents]
    step_ix = [k for k, s in enumerate(sts) if s.kind in ("steps", "none")]
    lengths = {currents[k].size for k in step_ix}
    windows: list[tuple[int, int]] = []
    if len(step_ix) >= 2 and len(lengths) == 1 and any(sts[k].kind == "steps" for k in step_ix):
        n = lengths.pop()
        L = np.empty((len(step_ix), n))
        for r, k in enumerate(step_ix):
            for s in sts[k].segments:
                L[r, s.i0:s.i1] = s.level
        tol = max(sts[k].tol for k in step_ix)
        varying = (L.max(axis=0) - L.min(axis=0)) > tol
        min_ep = max(1, int(round(MIN_EPOCH_MS / dt)))
        windows = [(a, b) for a, b in _runs(varying) if b - a >= min_ep]
    out = []
    for st in sts:
        if st.kind == "fluctuating":
            out.append(st)
            continue
        if windows:
            test = tuple(Window(a, b, st.level_at(a, b)) for a, b in windows)
            amp = max(test, key=lambda w: w.i1 - w.i0).amplitude
            test = tuple(w for w in test if abs(w.amplitude - amp) <= st.tol)
        else:
            test = _largest(st)
        kind = "steps" if test else st.kind
        out.append(SweepStimulus(kind, st.baseline, st.tol, st.segments, st.epochs, test))
    return out
