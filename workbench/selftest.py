"""``brainfit --self-test``: prove that this installation (source checkout or frozen bundle) works.

Offscreen, it opens the main window, loads the bundled example recording, runs a short real fit
(:class:`core.fitting.FitJob`: LIF, free ``R`` and ``V_rest``, L-BFGS-B with JAX gradients, on
the hyperpolarising step of sweep 0) through the window's :class:`~workbench.runner.JobRunner`, and checks that the final
loss is finite and below the starting loss. It prints one line of JSON::

    {"ok": true, "version": "0.1.0", "frozen": false, "versions": {...}, "device": "cpu:cpu",
     "loss_start": 86.96, "loss_end": 0.116, "seconds": 4.2, ...}

and returns 0, or ``"ok": false`` with a ``"reason"`` and returns 1. Package versions are part of
the check: a frozen bundle that lost a package's metadata (skopt then reports ``?.?.?``) fails.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from pathlib import Path

#: distributions whose versions the verdict reports (import name -> distribution name)
PACKAGES = {"jax": "jax", "jaxlib": "jaxlib", "PyQt6": "PyQt6", "pyqtgraph": "pyqtgraph",
            "numpy": "numpy", "scipy": "scipy", "h5py": "h5py", "pyabf": "pyabf", "optax": "optax",
            "nevergrad": "nevergrad", "skopt": "scikit-optimize"}

MODEL = "lif"
FREE = ("R", "V_rest")
START = {"R": 300.0, "V_rest": -80.0}  # deliberately off the example cell (R ~ 90, V_rest ~ -71)
SWEEP = 0  # the -100 pA step: subthreshold, where a LIF is the right model
WINDOW = (50.0, 400.0)  # ms: baseline, step onset at 100 ms, the relaxation
FIXED = {"V_th": -20.0}  # above every V_rest in bounds: no spikes, a smooth subthreshold fit
EVALUATIONS = 40
TIMEOUT_S = 240.0


class SelfTestFailure(Exception):
    """A check failed; the message is the verdict's ``reason``."""


def make_fit_job(recording):
    """The engine's own :class:`core.fitting.FitJob`, sized to take a few seconds."""
    from core.fitting import FitJob

    job = FitJob(recording, MODEL, FREE, fixed=FIXED, method="lbfgsb",
                 budget=EVALUATIONS, sweeps=[SWEEP], window=WINDOW, decimate=4,
                 uncertainty=False, name="self-test fit")
    job.options = {"starts": 1, "x0": job.objective().to_unit(START)}
    return job


def package_versions() -> dict[str, str]:
    """Versions as the packages themselves report them (``__version__``), else their metadata."""
    from importlib import import_module, metadata

    out = {}
    for module, dist in PACKAGES.items():
        try:
            version = getattr(import_module(module), "__version__", None)
        except Exception as exc:  # noqa: BLE001 - a broken import is the verdict
            out[module] = f"import failed: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(version, str):
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = "?.?.?"
        out[module] = version
    from PyQt6.QtCore import QT_VERSION_STR

    out["Qt"] = QT_VERSION_STR
    out["python"] = sys.version.split()[0]
    return out


def _check_versions(versions: dict[str, str]) -> None:
    bad = {k: v for k, v in versions.items() if not v or "?" in v or v.startswith("import failed")}
    if bad:
        raise SelfTestFailure("package versions unavailable (missing metadata or import): "
                              + ", ".join(f"{k}={v}" for k, v in bad.items()))


def _check_package_data() -> None:
    """Data files that packages load at run time (a bundle can lose them silently): SciPy's
    Sobol direction numbers, used for the optimizers' quasi-random starts."""
    import numpy as np
    from scipy.stats import qmc

    points = qmc.Sobol(d=2, scramble=False).random(4)
    if not np.allclose(points, [[0, 0], [0.5, 0.5], [0.75, 0.25], [0.25, 0.75]]):
        raise SelfTestFailure("SciPy's Sobol sequence is wrong (its direction-number data file "
                              "is missing from this installation)")


def _device() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}:{d.device_kind}" + (f" x{jax.device_count()}"
                                              if jax.device_count() > 1 else "")


def _wait(signals, timeout_s: float) -> tuple[str, tuple] | None:
    """Run a local event loop until one of ``signals`` ({label: signal}) fires; None on timeout."""
    from PyQt6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list = []
    slots = []
    for label, signal in signals.items():
        def slot(*args, label=label):
            if not got:
                got.append((label, args))
            loop.quit()
        signal.connect(slot)
        slots.append((signal, slot))
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    timer.stop()
    for signal, slot in slots:
        signal.disconnect(slot)
    return got[0] if got else None


def _check(window, recording_path: Path, timeout_s: float, verdict: dict) -> dict:
    from core.io import open_recording

    verdict["stage"] = "open recording"
    try:  # read it here first: the window reports errors in a modal box nobody would close
        recording = open_recording(str(recording_path))
    except Exception as exc:  # noqa: BLE001
        raise SelfTestFailure(f"cannot read {recording_path.name}: {exc}") from exc
    window.show()
    if not window.open_recording(recording_path) or window.session.recording is None:
        raise SelfTestFailure(f"the main window did not open {recording_path.name}")
    runner = window.runner
    verdict["stage"] = "model preview"
    deadline = time.monotonic() + timeout_s
    while runner.busy:  # the model preview and what opening queued (what idle triggers too)
        if _wait({"idle": runner.idle}, max(0.1, deadline - time.monotonic())) is None:
            raise SelfTestFailure(f"the preview job did not finish within {timeout_s:.0f} s")
    verdict["stage"] = "fit"
    events = []
    runner.progress.connect(events.append)
    if not runner.submit(make_fit_job(recording)):
        raise SelfTestFailure("the job runner refused the fit (busy)")
    outcome = _wait({"finished": runner.finished, "failed": runner.failed,
                     "cancelled": runner.cancelled}, timeout_s)
    runner.progress.disconnect(events.append)
    if outcome is None:
        runner.cancel()
        runner.wait(10000)
        raise SelfTestFailure(f"the fit did not finish within {timeout_s:.0f} s")
    kind, args = outcome
    if kind != "finished":
        raise SelfTestFailure(f"the fit {kind}: {args[0] if args else ''}")
    from core.fitting import FitResult

    result = args[0]
    if not isinstance(result, FitResult):
        raise SelfTestFailure(f"the runner returned {type(result).__name__}, not a FitResult")
    start, end = float(result.start_loss), float(result.loss)
    verdict = {"loss_start": start, "loss_end": end, "evaluations": int(result.evaluations),
               "progress_events": len(events),
               "fit": f"{MODEL} {'+'.join(FREE)}, FitJob {result.method}",
               "fitted": {k: round(float(v), 4) for k, v in result.fitted.items()}}
    if not (math.isfinite(start) and math.isfinite(end)):
        raise SelfTestFailure(f"non-finite loss: start {start}, end {end}", verdict)
    if not end < start:
        raise SelfTestFailure(f"the fit did not improve: loss {start:.6g} -> {end:.6g}", verdict)
    if not events:
        raise SelfTestFailure("the fit sent no progress events through the runner", verdict)
    return verdict


def run_self_test(recording: str | os.PathLike | None = None,
                  timeout_s: float = TIMEOUT_S) -> int:
    """Run the self-test, print the one-line JSON verdict, return the exit status."""
    t0 = time.perf_counter()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from core import __version__

    verdict: dict = {"ok": False, "version": __version__,
                     "frozen": bool(getattr(sys, "frozen", False))}
    window = None
    watchdog = _watchdog(verdict, t0, timeout_s + 60)
    try:
        from PyQt6.QtWidgets import QApplication

        from .app import configure_app
        from .main_window import MainWindow
        from .resources import example_recording_path

        verdict["stage"] = "imports"
        verdict["versions"] = versions = package_versions()
        _check_versions(versions)
        _check_package_data()
        verdict["device"] = _device()
        app = QApplication.instance() or QApplication(sys.argv[:1])
        configure_app(app)
        verdict["platform"] = app.platformName()
        path = Path(recording) if recording else example_recording_path()
        verdict["recording"] = path.name
        verdict["stage"] = "main window"
        window = MainWindow()
        if window.windowIcon().isNull():
            raise SelfTestFailure("the application icon did not load")
        if __version__ not in window.windowTitle():
            raise SelfTestFailure(f"window title {window.windowTitle()!r} lacks the version")
        verdict.update(_check(window, path, timeout_s, verdict))
        verdict["ok"] = True
        del verdict["stage"]
    except SelfTestFailure as exc:
        verdict["reason"] = str(exc.args[0])
        if len(exc.args) > 1:
            verdict.update(exc.args[1])
    except Exception as exc:  # noqa: BLE001 - any failure is a verdict, never a traceback
        verdict["reason"] = f"{type(exc).__name__}: {exc}"
    finally:
        watchdog.cancel()
        if window is not None:  # hide, not close: closing may ask about unsaved changes
            window.runner.shutdown(10000)
            window.hide()
            window.deleteLater()
    return _emit(verdict, t0)


def _emit(verdict: dict, t0: float) -> int:
    verdict["seconds"] = round(time.perf_counter() - t0, 2)
    line = json.dumps(verdict, default=str)
    if sys.stdout is not None:  # a windowed (no console) build has no stdout
        print(line, flush=True)
    out = os.environ.get("BRAINFIT_SELF_TEST_OUT")
    if out:
        Path(out).write_text(line + "\n", encoding="utf-8")
    return 0 if verdict["ok"] else 1


def _watchdog(verdict: dict, t0: float, timeout_s: float) -> threading.Timer:
    """Last resort against a hang the event-loop timeouts cannot see (a modal dialog, a stuck
    import): print the verdict and exit the process."""
    def fire():
        verdict.update(ok=False, reason=f"self-test hung for {timeout_s:.0f} s "
                                        f"(stage: {verdict.get('stage', '?')})")
        _emit(verdict, t0)
        os._exit(2)

    timer = threading.Timer(timeout_s, fire)
    timer.daemon = True
    timer.start()
    return timer
