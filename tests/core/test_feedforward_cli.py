"""``brainfit train --task digits``: JSON summary, the HDF5 model, clear errors."""

from __future__ import annotations

import json

import pytest

from core.training.feedforward_train import FeedForwardTrainResult
from workbench.cli import main

pytest.importorskip("sklearn")


def test_train_digits_writes_model_and_json(tmp_path, capsys):
    out = tmp_path / "model.h5"
    rc = main(["train", "--task", "digits", "--arch", "64-32-10", "--mode", "step_first",
               "--steps", "8", "--epochs", "1", "--batch-size", "32", "--lr", "5e-3",
               "--devices", "2", "--out", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "digits" and summary["mode"] == "step_first"
    assert summary["devices"] == 2 and summary["epochs_done"] == 1
    loaded = FeedForwardTrainResult.from_hdf5(out)
    assert loaded.test_accuracy == pytest.approx(summary["test_accuracy"])
    assert summary["test_accuracy"] > 0.3  # one short epoch: far above chance (0.1)
    assert loaded.config["arch"] == "64-32-10" and loaded.config["T"] == 8


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "T must be >= 1"),
    (["--arch", "64-32-7"], "64 inputs and 10 outputs"),
    (["--devices", "9"], "asked for 9 devices"),
    (["--batch-size", "5", "--devices", "2"], "multiple of the number of devices"),
    (["--mode", "step_first", "--surrogate", "nope"], "unknown surrogate"),
])
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    rc = main(["train", "--task", "digits", "--epochs", "1", *argv])
    assert rc == 2
    assert message in capsys.readouterr().err
