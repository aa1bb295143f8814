"""core imports JAX only when something computes: its modules can be imported, jobs built and
results read without loading JAX; pytrees registered at class definition work once JAX loads,
however it is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=240, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_public_modules_and_building_jobs_loads_no_jax():
    line = _run("""
        import sys
        import core.fitting, core.models, core.network, core.integrate, core.features, core.io
        import core.training.evidence, core.training.evidence_view, core.training.speed, core.batch
        from core.fitting import FitJob, CompareJob, LossSpec
        from core.models import get_model
        model = get_model("lif", R=120.0)
        print("jax" in sys.modules, "optax" in sys.modules, model.R)
    """)
    assert line == "False False 120.0"


def test_a_model_registered_before_jax_loads_is_a_pytree_after_a_plain_import():
    line = _run("""
        import core.models
        import jax  # not through core.lazy
        leaves = jax.tree_util.tree_leaves(core.models.get_model("adex"))
        print(len(leaves), len(core.models.get_model("adex").PARAMS))
    """)
    n_leaves, n_params = map(int, line.split())
    assert n_leaves == n_params > 0


def test_deferred_jit_and_custom_vjp_match_their_eager_forms():
    import jax
    import jax.numpy as jnp

    from core.lazy import custom_vjp, jit

    calls = []

    @jit(static_argnames=("power",))
    def f(x, power):
        calls.append(power)  # traced once per static value
        return jnp.sum(x ** power)

    x = jnp.arange(4.0)
    assert float(f(x, power=2)) == 14.0 and float(f(x + 1, power=2)) == 30.0
    assert calls == [2]
    assert f.__name__ == "f" and f.lower(x, power=3).compile() is not None

    def g(x):
        return jnp.sin(x)

    def g_fwd(x):
        return jnp.sin(x), x

    def g_bwd(x, ct):
        return (2.0 * ct,)  # a deliberately wrong gradient proves the rule is the one used

    g_custom = custom_vjp(g, g_fwd, g_bwd)
    np.testing.assert_allclose(g_custom(x), np.sin(np.arange(4.0)))
    np.testing.assert_allclose(jax.grad(lambda v: g_custom(v).sum())(x), 2.0 * np.ones(4))
