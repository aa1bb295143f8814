"""Human-readable rows of a cell's measurements (the Recording panel and ``brainfit info``)."""

from __future__ import annotations

from .measure import CellMeasurements

_ROWS = (
    ("Resting potential", "v_rest", "mV", ".1f"),
    ("Input resistance", "r_in", "MOhm", ".0f"),
    ("Membrane time constant", "tau_m", "ms", ".1f"),
    ("Capacitance", "c_m", "nF", ".3f"),
    ("Spike threshold", "v_threshold", "mV", ".1f"),
    ("AP peak", "ap_peak", "mV", ".1f"),
    ("AP width", "ap_width", "ms", ".2f"),
    ("AHP", "v_ahp", "mV", ".1f"),
    ("Rheobase", "rheobase", "nA", ".3f"),
    ("Adaptation index", "adaptation_index", "", ".3f"),
    ("ISI CV", "isi_cv", "", ".2f"),
)


def measurement_rows(m: CellMeasurements) -> list[tuple[str, str]]:
    """(label, value with unit) for every measurement; "—" where the data do not give it."""
    rows = [("Stimulus", m.stimulus_kind), ("Spikes per sweep", _counts(m.n_spikes))]
    for label, key, unit, fmt in _ROWS:
        value = getattr(m, key)
        rows.append((label, "—" if value is None else f"{value:{fmt}} {unit}".rstrip()))
    if m.fi_curve:
        rows.append(("F–I curve", ", ".join(f"{a:.3g} nA: {r:.3g} Hz" for a, r in m.fi_curve)))
    if m.reliability:
        rows.append(("Reliability (gamma between repetitions)",
                     ", ".join(f"{v:.3f} ({k.replace('gamma_', '±')})"
                               for k, v in m.reliability.items())))
    return rows


def _counts(n_spikes) -> str:
    n = list(n_spikes)
    return ", ".join(str(k) for k in n) if len(n) <= 12 else (
        f"{', '.join(str(k) for k in n[:12])}, … ({sum(n)} in all)")
