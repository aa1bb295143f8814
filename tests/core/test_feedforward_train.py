"""Training feed-forward spiking stacks: digits in both modes (> 80 % in a test-sized run), the job
seam (events, cancel keeps the partial result, HDF5 round trip), and 4 host devices equal 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import core  # noqa: F401  (enables x64)
from core.errors import ParameterError
from core.events import TrainProgress
from core.training.feedforward_data import encode, load_digits_split
from core.training.feedforward_train import (
    DigitsTrainConfig,
    DigitsTrainJob,
    FeedForwardTrainResult,
)

pytest.importorskip("sklearn")

SMALL = dict(arch="64-64-10", T=10, epochs=3, batch_size=32, learning_rate=5e-3, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = {}
    for mode in ("layer_first", "step_first"):
        events = []
        path = tmp_path_factory.mktemp(mode) / "model.h5"
        job = DigitsTrainJob(DigitsTrainConfig(mode=mode, **SMALL), out_path=str(path))
        out[mode] = (job.run(events.append), events, path)
    return out


@pytest.mark.parametrize("mode", ["layer_first", "step_first"])
def test_digits_short_training_learns(trained, mode):
    result, events, _ = trained[mode]
    assert result.test_accuracy > 0.80, result.history
    assert not result.cancelled
    assert result.history["test_accuracy"][0] < result.test_accuracy  # it learned, not luck
    progress = [e for e in events if isinstance(e, TrainProgress) and e.total]
    assert [e.done for e in progress if "test accuracy" not in e.message] == \
        list(range(1, progress[-1].total + 1))
    assert "test accuracy" in progress[-1].message


def test_modes_train_alike(trained):
    a, b = trained["layer_first"][0], trained["step_first"][0]
    # identical spikes and allclose gradients: the first steps' losses agree closely
    np.testing.assert_allclose(a.step_loss[:5], b.step_loss[:5], rtol=1e-4)
    assert abs(a.test_accuracy - b.test_accuracy) < 0.05


def test_result_round_trips_through_hdf5(trained):
    result, _, path = trained["layer_first"]
    loaded = FeedForwardTrainResult.from_hdf5(path)
    assert loaded.config == result.config and loaded.history == result.history
    for la, lb in zip(loaded.params, result.params):
        for k in la:
            np.testing.assert_array_equal(la[k], lb[k])
    assert not any(p.name.startswith(".") for p in path.parent.iterdir())  # no temp left
    # the saved network reproduces the test accuracy from the file alone
    net = loaded.network()
    split = load_digits_split(0.2, 0)
    X = encode(split.x_test, SMALL["T"], "rate", max_rate=loaded.config["max_rate"],
               rng=np.random.default_rng(0 + 11))
    logits = jax.jit(lambda p, x: net.apply(p, x))(loaded.params, X)
    acc = float(np.mean(np.argmax(np.asarray(logits), 1) == split.y_test))
    assert acc == pytest.approx(loaded.test_accuracy, abs=1e-9)


def test_cancel_keeps_partial_result(tmp_path):
    events = []
    cfg = DigitsTrainConfig(mode="layer_first", **{**SMALL, "epochs": 2, "max_train": 256})
    path = tmp_path / "partial.h5"
    result = DigitsTrainJob(cfg, out_path=str(path)).run(
        events.append, lambda: sum(isinstance(e, TrainProgress) for e in events) >= 4)
    assert result.cancelled
    assert len(result.step_loss) == 4 and result.history["test_accuracy"] == []
    assert FeedForwardTrainResult.from_hdf5(path).cancelled
    assert len(result.params) == 2 and result.params[0]["W"].shape == (64, 64)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ParameterError, match="64 inputs and 10 outputs"):
        DigitsTrainConfig(arch="32-16-10").network()
    with pytest.raises(ParameterError, match="T must be"):
        DigitsTrainConfig(T=0)
    with pytest.raises(ParameterError, match="multiple of the number of devices"):
        DigitsTrainJob(DigitsTrainConfig(**{**SMALL, "batch_size": 5, "devices": 2})).run()
    with pytest.raises(ParameterError, match="NaN"):
        encode(np.full((2, 64), np.nan), 5)


SHARDED = textwrap.dedent("""
    import json, jax, jax.numpy as jnp, numpy as np, optax
    import core
    from core.training.feedforward import FeedForwardSNN
    from core.training.feedforward_parallel import loss_grad_fn, make_mesh, train_step_fn
    assert len(jax.devices()) == 4, jax.devices()
    net = FeedForwardSNN.from_arch("12-16-16-4", dtype="float64", reset="zero")
    params = net.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    x = (rng.random((15, 8, 12)) < 0.3).astype(np.float64)
    y = rng.integers(0, 4, 8).astype(np.int32)
    w = np.array([1, 1, 1, 0, 1, 1, 1, 0], np.float64)  # two padding samples
    def reference(p):  # plain weighted mean cross-entropy, no sharding
        logp = jax.nn.log_softmax(net.apply(p, x, mode="step_first"))
        return -jnp.sum(w * logp[jnp.arange(8), y]) / jnp.sum(w)
    ref_loss, ref_g = jax.value_and_grad(reference)(params)
    out = {"ref_loss": float(ref_loss)}
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))
    for n, mode in ((1, "layer_first"), (4, "layer_first"), (4, "step_first")):
            mesh = make_mesh(n)
            loss, acc, g = loss_grad_fn(net, mode, mesh)(params, x, y, w)
            dev = max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
                      for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(ref_g)))
            r = out[f"{n}-{mode}"] = {"loss": float(loss), "acc": float(acc), "grad_dev": dev}
            if mode == "layer_first":
                step = train_step_fn(net, mode, mesh, opt)
                p, s = params, opt.init(params)
                for _ in range(3):
                    p, s, _, _ = step(p, s, x, y, w)
                r["W0"] = np.asarray(p[0]["W"]).ravel()[:50].tolist()
    print(json.dumps(out))
""")


def test_four_host_devices_equal_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED], capture_output=True, text=True,
                          env=env, timeout=300, cwd=os.path.dirname(core.__path__[0]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = {k: v for k, v in out.items() if k != "ref_loss"}
    assert len(runs) == 3
    for name, r in runs.items():
        assert r["loss"] == pytest.approx(out["ref_loss"], rel=1e-12), name
        assert r["grad_dev"] < 1e-10, name
        assert 0.0 <= r["acc"] <= 1.0
    base = np.asarray(runs["1-layer_first"]["W0"])  # three Adam steps, same parameters
    np.testing.assert_allclose(runs["4-layer_first"]["W0"], base, rtol=1e-9, atol=1e-12)
    assert not np.allclose(base, 0)
