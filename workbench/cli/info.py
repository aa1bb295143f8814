"""``brainfit info FILE [--json]``: what a recording file holds, as read by :mod:`core.io`."""

from __future__ import annotations

import json

from . import COMMANDS


def _add_info(p) -> None:
    p.add_argument("file", nargs="+", help="recording file(s) (ABF, NWB, HDF5, CSV/TSV/ASC, Igor "
                   ".ibw); several files are described as one cell")
    p.add_argument("--current", help="the file holding the injected current (Igor waves)")
    p.add_argument("--no-measure", action="store_true",
                   help="skip the cell measurements (resting potential, R_in, tau, threshold…)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--time-unit", help="unit of the time column when the file does not state it "
                                       "(e.g. ms, s); overrides the file's unit")
    p.add_argument("--voltage-unit", help="unit of the voltage column (e.g. mV, V)")
    p.add_argument("--current-unit", help="unit of the current column (e.g. pA, nA)")
    p.add_argument("--channel", help="ABF: index or name of the voltage channel")
    p.add_argument("--threshold", type=float, default=-20.0,
                   help="spike detection threshold in mV (upward crossings; default -20)")


def _cmd_info(args) -> int:
    from core.io import open_cell, open_recording

    channel = args.channel
    if channel is not None and channel.isdigit():
        channel = int(channel)
    options = dict(time_unit=args.time_unit, voltage_unit=args.voltage_unit,
                   current_unit=args.current_unit, channel=channel)
    if len(args.file) == 1:
        rec = open_recording(args.file[0], current=args.current, **options)
    else:
        rec = open_cell(args.file, **options)
    info = rec.summary(args.threshold)
    measurements = None
    if not args.no_measure:
        from core.features import measure_cell

        measurements = measure_cell(rec, spike_threshold=args.threshold)
    if args.json:
        if measurements is not None:
            info["measurements"] = measurements.as_dict()
        print(json.dumps(info, default=float))
        return 0
    lengths = sorted(set(info["samples_per_sweep"]))
    spikes = info["spikes_per_sweep"]
    lines = [
        f"file:        {info['path']}",
        f"format:      {info['format']}" + (f"   protocol: {info['protocol']}"
                                           if info["protocol"] else ""),
        f"sweeps:      {info['n_sweeps']} (numbers {_ranges(info['sweep_numbers'])})",
        f"sampling:    {info['sampling_rate_hz']:g} Hz (dt = {info['dt_ms']:g} ms), "
        f"{'/'.join(map(str, lengths))} samples per sweep, duration {info['duration_ms']:g} ms",
        f"channels:    {', '.join(info['channels']) or '-'}",
        "units:       file " + ", ".join(f"{q} {u}" for q, u in info["original_units"].items())
        + "; core ms, mV, nA",
        "conversions: " + ("; ".join(info["conversions"]) or "none"),
        "stimulus:    " + (info["stimulus"] if info["stimulus_present"]
                           else "MISSING (attach a step protocol or another file)"),
        f"spikes:      {sum(spikes)} in total (V crossing {info['spike_threshold_mV']:g} mV); "
        "per sweep " + " ".join(map(str, spikes)),
    ]
    lines += [f"note:        {n}" for n in info["notes"]]
    if measurements is not None:
        from core.features.summary import measurement_rows

        lines.append("cell measurements:")
        lines += [f"  {label + ':':<40} {value}" for label, value in measurement_rows(measurements)]
        lines += [f"  warning: {w}" for w in measurements.warnings]
    print("\n".join(lines))
    return 0


def _ranges(numbers: list[int]) -> str:
    if numbers and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f"{numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
    return ", ".join(map(str, numbers))


COMMANDS["info"] = (_add_info, _cmd_info, "describe a recording file: format, sweeps, sampling, "
                    "units and conversions, stimulus, spikes per sweep")
