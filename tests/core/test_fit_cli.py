"""``brainfit fit`` / ``brainfit predict`` end to end on a small synthetic recording."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.fitting import load_fit
from core.integrate import simulate
from core.io import Recording, Sweep, write_recording
from core.models import GIF
from workbench.cli import main


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    dt = 0.1
    t = np.arange(1200) * dt
    I = np.array([np.where((t > 10) & (t < 110), a, 0.0) for a in (1.4, 2.0)])
    model = GIF(A1=0.3, A2=-0.1, tau_I1=5.0, tau_I2=100.0)
    res = simulate(model, I.T, dt)
    V = np.concatenate([np.full((2, 1), -70.0), np.asarray(res.V).T[:, :-1]], axis=1)
    path = tmp_path_factory.mktemp("cli") / "gif.h5"
    write_recording(Recording(tuple(Sweep(V[k], I[k], dt, number=k) for k in range(2))), path)
    return path


def test_fit_then_predict(rec_path, tmp_path, capsys):
    out = tmp_path / "result.h5"
    code = main(["fit", str(rec_path), "--model", "gif", "--free", "A1,tau_I1",
                 "--set", "A2=-0.1", "--set", "tau_I2=100", "--bounds", "A1=0.05:2",
                 "--optimizer", "hybrid,de", "--seeds", "1", "--budget", "400", "--sweeps",
                 "0-1", "--out", str(out), "--json", "--no-uncertainty"])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert set(summary) == {"hybrid", "de"}, summary
    assert summary["hybrid"]["parameters"]["A1"] == pytest.approx(0.3, rel=0.05)
    assert summary["hybrid"]["loss"] < summary["de"]["loss"] + 1e-9
    assert "evals" in captured.err  # the progress bar
    best = load_fit(out)
    assert best.method == "hybrid" and best.fitted["tau_I1"] == pytest.approx(5.0, rel=0.05)
    code = main(["predict", str(out), str(rec_path), "--sweeps", "1", "--json", "--export",
                 str(tmp_path / "pred.csv")])
    pred = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and pred["loss"] < 1e-3 and pred["gamma"] == pytest.approx(1.0)
    assert pred["n_model_spikes"] == pred["n_data_spikes"] > 0
    table = np.loadtxt(tmp_path / "pred.csv", delimiter=",", skiprows=1)
    assert table.shape == (1200, 3)


@pytest.mark.parametrize("extra,message", [
    (["--free", "A1,nope"], "no parameter"),
    (["--free", "A1", "--bounds", "A1=2:1"], "bracket"),
    (["--free", "A1", "--bounds", "A1=1"], "LOW:HIGH"),
    (["--free", "A1", "--set", "tau_V=abc"], "not a number"),
    (["--free", "A1", "--optimizer", "newton"], "unknown optimizer"),
    (["--free", "A1", "--sweeps", "7"], "does not exist"),
    (["--free", "A1", "--window", "500:600"], "holds no samples"),
    (["--free", "A1", "--sweeps", "x"], "--sweeps"),
])
def test_bad_arguments_exit_2_with_message(rec_path, capsys, extra, message):
    code = main(["fit", str(rec_path), "--model", "gif", "--budget", "8", "--quiet"] + extra)
    assert code == 2
    assert message in capsys.readouterr().err


def test_unknown_model_and_missing_file(rec_path, tmp_path, capsys):
    assert main(["fit", str(rec_path), "--model", "hhx", "--free", "A1"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none.h5"), str(rec_path)]) == 2


def test_fit_without_free_runs_the_data_derived_default_fit_on_a_real_cell(shared_data, capsys):
    """``brainfit fit FILE --model gif`` (no --free) fits with the defaults derived from the
    cell and validates on the sweeps that were not chosen: the model fitted to five step sweeps
    predicts the spike counts of the other twelve."""
    path = shared_data / "real" / "171116sh_0018.abf"
    code = main(["fit", str(path), "--model", "gif", "--sweeps", "2,5,8,11,14",
                 "--window", "100:700", "--optimizer", "lbfgsb", "--budget", "30",
                 "--no-uncertainty", "--quiet", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = out["lbfgsb"][0]
    assert run["split"]["train_sweeps"] == [2, 5, 8, 11, 14]
    assert run["split"]["test_sweeps"] == [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16]
    assert run["split"]["test_window"] == [100.0, 700.0]
    held, total = map(int, run["validation"]["spike_counts_within_20pct"].split("/"))
    assert total == 12 and held >= 10
    # passive properties came from the data, not the spec defaults (V_rest -70, R 20)
    values = run["defaults"]["values"]
    assert -68.0 < values["V_rest"] < -55.0 and values["R"] > 40.0
    assert run["validation"]["n_data_spikes"] == sum(r["n_data"] for r in
                                                     run["validation"]["per_sweep"])


def test_fit_several_files_as_one_cell(shared_data, capsys):
    """Two INCF step files (one sweep per file) fitted jointly as one cell."""
    folder = shared_data / "real" / "incf2007_challengeB_C140201C"
    files = [str(folder / f"traceascii_C140201C_IDRest_{k}.asc") for k in (102, 103, 104)]
    code = main(["fit", *files, "--model", "lif", "--optimizer", "lbfgsb", "--budget", "20",
                 "--window", "500:1500", "--no-uncertainty", "--quiet", "--json"])
    assert code == 0
    run = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["lbfgsb"][0]
    assert run["split"]["train_sweeps"] == [0, 1] and run["split"]["test_sweeps"] == [2]


def test_info_shows_the_cell_measurements(shared_data, capsys):
    from core.features import measure_cell
    from core.io import open_recording

    path = shared_data / "real" / "171116sh_0018.abf"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = measure_cell(open_recording(path))
    assert info["measurements"]["r_in"] == pytest.approx(expected.r_in)
    assert info["measurements"]["rheobase"] == pytest.approx(expected.rheobase)
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "cell measurements:" in text and f"{expected.r_in:.0f} MOhm" in text


def test_ctrl_c_stops_a_cli_fit_and_keeps_the_best_so_far(rec_path, tmp_path):
    """Ctrl-C is the CLI's Cancel: the job stops within an iteration and its partial result is
    written (the same job and protocol as the window's)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "partial.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "fit", str(rec_path), "--model", "gif",
         "--free", "A1,tau_I1", "--optimizer", "de", "--seconds", "300", "--budget", "10000000",
         "--no-uncertainty", "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = b""
    deadline = time.monotonic() + 120
    while b"evals" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += os.read(proc.stderr.fileno(), 4096)
    assert b"evals" in seen, seen.decode(errors="replace")
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 30
    assert proc.returncode == 0, (seen + stderr).decode(errors="replace")
    assert b"keeping the best result so far" in stderr
    fit = load_fit(out)
    assert fit.cancelled and np.isfinite(fit.loss) and fit.evaluations > 0
    assert b"loss" in stdout
