"""Network benchmarks (JSON on stdout): COBA 1 s and 10 s, the EI template, the antennal lobe;
compile time, run time, spikes, mean rates; peak RSS of 10 s vs 100 s of COBA streamed to HDF5;
and, where Brian2 is importable, Brian2's COBA (cpp_standalone, one thread) run alternately
with ours, with the ratio of run times.

    python benchmarks/network.py                      # everything
    python benchmarks/network.py --skip-rss --reps 3  # shorter
    python benchmarks/network.py --brian2-python /path/to/venv/bin/python

Every measurement runs in its own process pinned to one CPU core (``--cpu``), ours with XLA
limited to one thread, so that runs are comparable and RSS is per run. Brian2 2.9 needs
NumPy < 2.4: when the project's NumPy is newer, point ``--brian2-python`` at an interpreter with
``pip install brian2 "numpy<2.4"``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _pin(cpu: int) -> None:
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---- children --------------------------------------------------------------------------------
def child_ours(template: str, duration_s: float, reps: int, out: str | None, params: dict) -> dict:
    sys.path.insert(0, ROOT)
    import core  # noqa: F401
    from core.network.run import run_network
    from core.network.templates import get_template

    t = get_template(template)
    t0 = time.perf_counter()
    engine = t.build(seed=0, **params)
    build_s = time.perf_counter() - t0
    runs = []
    first = None
    for _ in range(reps):
        res = run_network(engine, duration_s * 1000.0, chunk_ms=t.default_chunk_ms,
                          out_path=out, keep_in_memory=out is None)
        first = first or res
        runs.append(res.elapsed_s)
    return {"template": template, "duration_s": duration_s, "neurons": res.n_neurons,
            "build_s": round(build_s, 4), "compile_s": round(first.compile_s, 4),
            "run_s": round(min(runs), 4), "run_s_all": [round(x, 4) for x in runs],
            "spikes": res.n_spikes,
            "mean_rate_hz": {k: round(v, 3) for k, v in res.mean_rates().items()},
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


BRIAN2_COBA = """
from brian2 import *
import numpy as np
set_device('cpp_standalone', directory={directory!r}, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0
defaultclock.dt = 0.1 * ms
taum = 20 * ms; taue = 5 * ms; taui = 10 * ms; Vt = -50 * mV; Vr = -60 * mV; El = -60 * mV
Erev_exc = 0. * mV; Erev_inh = -80. * mV; I = 20. * mvolt
eqs = '''
dv/dt  = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El) + I)*(1./taum) : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
'''
P = NeuronGroup(4000, eqs, threshold='v>Vt', reset='v = Vr', refractory=5 * ms, method='euler')
Ce = Synapses(P[:3200], P, on_pre='ge += 0.6')
Ci = Synapses(P[3200:], P, on_pre='gi += 6.7')
P.v = 'randn() * 5. * mV - 55. * mV'
Ce.connect(p=0.02)
Ci.connect(p=0.02)
mon = SpikeMonitor(P)
run({duration} * second)
"""


def child_brian2(duration_s: float, workdir: str) -> dict:
    import numpy as np

    namespace: dict = {}
    t0 = time.perf_counter()
    exec(BRIAN2_COBA.format(directory=workdir, duration=duration_s), namespace)
    device = namespace["device"]
    device.build(directory=workdir, compile=True, run=True, debug=False)
    total = time.perf_counter() - t0
    mon = namespace["mon"]
    counts = np.asarray(mon.count)
    return {"simulator": "brian2 cpp_standalone (1 thread)",
            "brian2": namespace["brian2"].__version__ if "brian2" in namespace else "",
            "duration_s": duration_s, "run_s": round(float(device._last_run_time), 4),
            "build_and_run_s": round(total, 3), "spikes": int(mon.num_spikes),
            "mean_rate_hz": {"E": round(float(counts[:3200].sum() / 3200 / duration_s), 3),
                             "I": round(float(counts[3200:].sum() / 800 / duration_s), 3)}}


# ---- orchestration ---------------------------------------------------------------------------
def _run_child(python: str, args: list[str], cpu: int, timeout: float = 1800) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    cmd = [python, os.path.abspath(__file__), "--cpu", str(cpu), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["failed"]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def _median(xs: list) -> float | None:
    xs = sorted(x for x in xs if isinstance(x, (int, float)))
    if not xs:
        return None
    m = len(xs) // 2
    return round(xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m]), 4)


def _has_brian2(python: str) -> bool:
    p = subprocess.run([python, "-c", "import brian2"], capture_output=True, text=True)
    return p.returncode == 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--template", default="coba", help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=0, help="CPU core every run is pinned to")
    ap.add_argument("--reps", type=int, default=5, help="alternating JAX/Brian2 repetitions")
    ap.add_argument("--brian2-python", default=sys.executable,
                    help="interpreter that has brian2 (default: this one)")
    ap.add_argument("--skip-rss", action="store_true", help="skip the 10 s vs 100 s RSS runs")
    ap.add_argument("--skip-templates", action="store_true", help="COBA only")
    a = ap.parse_args(argv)
    if a.child:
        _pin(a.cpu)
        if a.child == "ours":
            out = child_ours(a.template, a.duration, a.reps, a.out, json.loads(a.params))
        else:
            out = child_brian2(a.duration, a.workdir)
        print(json.dumps(out))
        return 0

    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": os.cpu_count(), "pinned_cpu": a.cpu,
                          "python": sys.version.split()[0]},
              "loadavg_start": _loadavg()}
    brian2_ok = _has_brian2(a.brian2_python)
    work = tempfile.mkdtemp(prefix="brainfit-bench-")
    for dur in (1.0, 10.0):
        key = f"coba_{dur:g}s"
        ours, theirs = [], []
        for _ in range(a.reps if brian2_ok else 1):
            ours.append(_run_child(sys.executable, ["--child", "ours", "--duration", str(dur),
                                                    "--reps", "2"], a.cpu))
            if brian2_ok:
                theirs.append(_run_child(a.brian2_python, ["--child", "brian2", "--duration",
                                                           str(dur), "--workdir",
                                                           os.path.join(work, key)], a.cpu))
        entry = {"ours": min((o for o in ours if "run_s" in o), key=lambda o: o["run_s"],
                             default=ours[0]),
                 "ours_run_s_all": [o.get("run_s") for o in ours],
                 "ours_run_s_median": _median([o.get("run_s") for o in ours])}
        if brian2_ok:
            ok = [t for t in theirs if "run_s" in t]
            entry["brian2"] = min(ok, key=lambda t: t["run_s"], default=theirs[0])
            entry["brian2_run_s_all"] = [t.get("run_s") for t in theirs]
            entry["brian2_run_s_median"] = _median(entry["brian2_run_s_all"])
            if ok and "run_s" in entry["ours"]:
                entry["speedup_vs_brian2"] = round(entry["brian2"]["run_s"]
                                                   / entry["ours"]["run_s"], 3)
                if entry["ours_run_s_median"] and entry["brian2_run_s_median"]:
                    entry["speedup_vs_brian2_medians"] = round(
                        entry["brian2_run_s_median"] / entry["ours_run_s_median"], 3)
        else:
            entry["brian2"] = f"not importable by {a.brian2_python}"
        report[key] = entry
    if not a.skip_templates:
        for name, dur in (("ei", 2.0), ("antennal-lobe", 1.0)):
            report[name] = _run_child(sys.executable, ["--child", "ours", "--template", name,
                                                       "--duration", str(dur), "--reps", "2"],
                                      a.cpu)
    if not a.skip_rss:
        rss = {}
        for dur in (10.0, 100.0):
            out = os.path.join(work, f"coba_{dur:g}s.h5")
            r = _run_child(sys.executable, ["--child", "ours", "--duration", str(dur),
                                            "--reps", "1", "--out", out], a.cpu, timeout=3600)
            r["file_mb"] = round(os.path.getsize(out) / 2**20, 1) if os.path.exists(out) else None
            rss[f"{dur:g}s"] = r
        report["coba_streamed_peak_rss_mb"] = {k: v.get("peak_rss_mb") for k, v in rss.items()}
        report["coba_streamed"] = rss
    report["loadavg_end"] = _loadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
