"""``brainfit --self-test`` from source: the same command the bundle runs in ``make package-test``.

It runs in a fresh process (as users and the bundle run it), offscreen, with the real window,
the bundled example and a real fit through the JobRunner.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from core import __version__


def self_test(*args: str, tmp_path) -> tuple[int, dict, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8",
           "BRAINFIT_SELF_TEST_OUT": str(tmp_path / "verdict.json")}
    proc = subprocess.run([sys.executable, "-m", "workbench", "--self-test", *args], env=env,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line of JSON on stdout, got:\n{proc.stdout}\n{proc.stderr}"
    verdict = json.loads(lines[0])
    assert json.loads((tmp_path / "verdict.json").read_text()) == verdict
    return proc.returncode, verdict, proc.stderr


@pytest.mark.timeout(300)
def test_self_test_passes_from_source(tmp_path):
    rc, verdict, stderr = self_test(tmp_path=tmp_path)
    assert rc == 0 and verdict["ok"] is True, (verdict, stderr[-3000:])
    assert verdict["version"] == __version__
    assert verdict["frozen"] is False
    assert verdict["recording"] == "example_cell.h5"
    versions = verdict["versions"]
    for name in ("jax", "PyQt6", "numpy", "scipy", "nevergrad", "skopt"):
        assert versions[name][0].isdigit() and "?" not in versions[name], (name, versions[name])
    assert verdict["device"].startswith(("cpu", "gpu", "cuda", "rocm", "tpu"))
    start, end = verdict["loss_start"], verdict["loss_end"]
    assert math.isfinite(start) and math.isfinite(end) and end < start
    # the example cell is a passive membrane on this sweep: the LIF fit reaches the noise floor
    # (0.3 mV recording noise -> 0.09 mV^2) and recovers its input resistance and rest
    assert end < 1.0
    assert 60 < verdict["fitted"]["R"] < 120 and -75 < verdict["fitted"]["V_rest"] < -68
    assert "FitJob" in verdict["fit"] and verdict["progress_events"] >= 1


@pytest.mark.timeout(300)
def test_self_test_fails_with_a_reason(tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)  # an HDF5 signature, then nothing
    rc, verdict, _ = self_test(str(broken), tmp_path=tmp_path)
    assert rc == 1 and verdict["ok"] is False
    assert "broken.h5" in verdict["reason"]
    assert verdict["stage"] == "open recording"
