"""Single-neuron engine speed: compile and steady-state run time.

HH (cortical, exp. Euler) for 1k and 10k neurons, 100 ms at dt 0.01 ms; 4000 uncoupled LIF neurons
for 1 s at dt 0.1 ms. Prints JSON; ``per_neuron_step_ns`` lets sizes be compared.

    .venv/bin/python benchmarks/simulate.py
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import emit, machine, time_call  # noqa: E402

from core.integrate import get_solver, simulate_arrays  # noqa: E402
from core.models import LIF, HHCortical  # noqa: E402
from core.surrogate import get_surrogate  # noqa: E402


def case(model, n, steps, dt, current, solver, dtype, unroll):
    model = model.astype(dtype)
    stim = jnp.full((steps, n), current, dtype) * jnp.linspace(0.5, 1.5, n, dtype=dtype)
    state = model.init_state((n,), dtype)
    run = jax.jit(partial(simulate_arrays, solver=get_solver(solver),
                          surrogate=get_surrogate("sigmoid"), unroll=unroll))
    out = None

    def call():
        nonlocal out
        out = run(model, stim, dt, state)
        return out

    first, steady = time_call(call, repeats=3)
    spikes = float(np.asarray(out[1]).sum())
    return {"neurons": n, "steps": steps, "dt_ms": dt, "solver": solver, "dtype": jnp.dtype(dtype).name,
            "unroll": unroll, "compile_and_first_run_s": round(first, 4),
            "compile_s": round(max(first - steady, 0.0), 4), "run_s": round(steady, 4),
            "per_neuron_step_ns": round(1e9 * steady / (n * steps), 3),
            "spikes": spikes, "mean_rate_hz": round(spikes / n / (steps * dt / 1000.0), 2)}


def main() -> None:
    results = {
        "hh_1k_100ms": case(HHCortical(), 1000, 10_000, 0.01, 0.5, "exp_euler", jnp.float32, 4),
        "hh_10k_100ms": case(HHCortical(), 10_000, 10_000, 0.01, 0.5, "exp_euler", jnp.float32, 4),
        "lif_4000_1s": case(LIF(), 4000, 10_000, 0.1, 0.3, "exp_euler", jnp.float32, 4),
    }
    emit({"benchmark": "simulate", "machine": machine(), "results": results})


if __name__ == "__main__":
    main()
