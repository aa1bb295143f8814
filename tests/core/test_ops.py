"""Event-driven CSR operator vs the dense product: values, gradients, jit, vmap, overflow."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import core  # noqa: F401  (enables x64)
from core.ops import CSR, csr_matvec, dense_matvec, event_matmat, event_matvec

N_PRE, N_POST, P = 50, 40, 0.1


def _weights_dense(seed, homogeneous, dtype=np.float64, empty_rows=(3, 17)):
    rng = np.random.default_rng(seed)
    mask = rng.random((N_PRE, N_POST)) < P
    mask[list(empty_rows)] = False
    W = np.where(mask, 0.7 if homogeneous else rng.normal(size=mask.shape), 0.0).astype(dtype)
    return W


def _input(seed, kind, n_active=8, dtype=np.float64, shape=(N_PRE,)):
    rng = np.random.default_rng(seed + 100)
    active = np.zeros(shape, bool)
    flat = active.reshape(-1, shape[-1])
    for row in flat:
        row[rng.choice(shape[-1], n_active, replace=False)] = True
    if kind == "bool":
        return active
    return np.where(active, rng.normal(size=shape), 0.0).astype(dtype)


def _entries(W, csr):
    return np.asarray(W)[np.asarray(csr.rows), np.asarray(csr.indices)]


@pytest.mark.parametrize("homogeneous", [True, False])
@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("max_active", [12, 3, None])  # 3 < 8 active: the overflow path
def test_values_match_dense_float64(homogeneous, kind, max_active):
    W = _weights_dense(0, homogeneous)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    assert csr.homogeneous == homogeneous
    x = _input(1, kind)
    y = event_matvec(x, csr, max_active)
    np.testing.assert_allclose(y, dense_matvec(x, W), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(csr_matvec(x, csr), dense_matvec(x, W), rtol=1e-12, atol=1e-12)
    assert y.dtype == jnp.float64


def test_dense_reference_is_independent():
    W = _weights_dense(2, False)
    x = _input(3, "float")
    ref = np.array([sum(x[i] * W[i, j] for i in range(N_PRE)) for j in range(N_POST)])
    np.testing.assert_allclose(dense_matvec(x, W), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("homogeneous", [True, False])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_float32_preserved(homogeneous, kind):
    W = _weights_dense(4, homogeneous, dtype=np.float32)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    assert csr.dtype == jnp.float32
    x = _input(5, kind, dtype=np.float32)
    for k in (16, 2):
        y = event_matvec(x, csr, k)
        assert y.dtype == jnp.float32
        np.testing.assert_allclose(y, x.astype(np.float64) @ W.astype(np.float64), rtol=1e-5,
                                   atol=1e-6)  # fmt: skip
    g = jax.grad(lambda w: jnp.sum(event_matvec(x, csr.with_weights(w), 16)))(csr.weights)
    assert g.dtype == jnp.float32
    if kind == "float":
        gx = jax.grad(lambda v: jnp.sum(event_matvec(v, csr, 16) ** 2))(jnp.asarray(x))
        assert gx.dtype == jnp.float32


def _loss_event(x, w, csr, k):
    return jnp.sum(jnp.sin(event_matvec(x, csr.with_weights(w), k)) * jnp.arange(N_POST))


def _loss_dense(x, W):
    return jnp.sum(jnp.sin(dense_matvec(x, W)) * jnp.arange(N_POST))


@pytest.mark.parametrize("homogeneous", [True, False])
@pytest.mark.parametrize("max_active", [12, 3])
def test_gradients_match_dense(homogeneous, max_active):
    W = _weights_dense(6, homogeneous)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    x = _input(7, "float")
    gx, gw = jax.grad(_loss_event, argnums=(0, 1))(x, csr.weights, csr, max_active)
    gx_d, gW_d = jax.grad(_loss_dense, argnums=(0, 1))(x, jnp.asarray(W))
    np.testing.assert_allclose(gx, gx_d, rtol=1e-10, atol=1e-12)
    # dL/dw_ij for stored entries; homogeneous: dL/dw = sum over the stored entries
    ref_w = _entries(gW_d, csr)
    ref_w = ref_w.sum() if homogeneous else ref_w
    np.testing.assert_allclose(gw, ref_w, rtol=1e-10, atol=1e-12)
    # the full (non-event) product has the same VJP
    loss_full = lambda x, w: jnp.sum(
        jnp.sin(csr_matvec(x, csr.with_weights(w))) * jnp.arange(N_POST)
    )
    gx_f, gw_f = jax.grad(loss_full, argnums=(0, 1))(x, csr.weights)
    np.testing.assert_allclose(gx_f, gx_d, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gw_f, ref_w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("homogeneous", [True, False])
def test_gradient_bool_input_weights_only(homogeneous):
    W = _weights_dense(8, homogeneous)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    x = _input(9, "bool")
    gw = jax.grad(_loss_event, argnums=1)(x, csr.weights, csr, 12)
    gW_d = jax.grad(_loss_dense, argnums=1)(x, jnp.asarray(W))
    ref = _entries(gW_d, csr)
    np.testing.assert_allclose(gw, ref.sum() if homogeneous else ref, rtol=1e-10, atol=1e-12)
    # the whole pytree can be differentiated (integer leaves get float0 cotangents)
    g = jax.grad(lambda c: jnp.sum(event_matvec(x, c, 12) ** 2), allow_int=True)(csr)
    assert isinstance(g, CSR) and g.weights.shape == csr.weights.shape


def test_gradients_finite_differences():
    W = _weights_dense(10, False)
    csr = CSR.from_dense(W)
    x = _input(11, "float")
    rng = np.random.default_rng(12)
    dx, dw = rng.normal(size=x.shape), rng.normal(size=csr.weights.shape)
    gx, gw = jax.grad(_loss_event, argnums=(0, 1))(x, csr.weights, csr, 12)
    eps = 1e-6
    f = lambda t: float(_loss_event(x + t * dx, csr.weights + t * dw, csr, 60))
    fd = (f(eps) - f(-eps)) / (2 * eps)
    np.testing.assert_allclose(np.dot(gx, dx) + np.dot(gw, dw), fd, rtol=1e-6)


@pytest.mark.parametrize("homogeneous", [True, False])
def test_jit_and_vmap(homogeneous):
    W = _weights_dense(13, homogeneous)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    X = _input(14, "float", shape=(6, N_PRE))
    X[2] = 0.0  # an all-zero row in the batch
    X[4, :20] = 1.0  # one row overflows the buffer of 12: the whole batch takes the exact path
    ref = X @ W
    f = jax.jit(jax.vmap(lambda x, c: event_matvec(x, c, 12), in_axes=(0, None)))
    np.testing.assert_allclose(f(X, csr), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f(X[:4], csr), ref[:4], rtol=1e-12, atol=1e-12)  # no overflow
    np.testing.assert_allclose(event_matmat(X, csr, 12), ref, rtol=1e-12, atol=1e-12)
    # gradients under jit(vmap(grad)) and grad of a batched loss
    gx = jax.jit(jax.vmap(jax.grad(_loss_event), in_axes=(0, None, None, None), out_axes=0),
                 static_argnums=3)(X, csr.weights, csr, 12)  # fmt: skip
    gx_d = jax.vmap(jax.grad(_loss_dense), in_axes=(0, None))(X, jnp.asarray(W))
    np.testing.assert_allclose(gx, gx_d, rtol=1e-10, atol=1e-12)
    loss_b = lambda X, w: jnp.sum(jnp.cos(event_matmat(X, csr.with_weights(w), 12)))
    loss_d = lambda X, W: jnp.sum(jnp.cos(X @ W))
    gX, gw = jax.jit(jax.grad(loss_b, argnums=(0, 1)))(X, csr.weights)
    gX_d, gW_d = jax.grad(loss_d, argnums=(0, 1))(X, jnp.asarray(W))
    np.testing.assert_allclose(gX, gX_d, rtol=1e-10, atol=1e-12)
    ref_w = _entries(gW_d, csr)
    np.testing.assert_allclose(gw, ref_w.sum() if homogeneous else ref_w, rtol=1e-10, atol=1e-12)


def test_vmap_over_weights():
    W = _weights_dense(15, False)
    csr = CSR.from_dense(W)
    x = _input(16, "bool")
    ws = jnp.stack([csr.weights, 2.0 * csr.weights, -csr.weights])
    ys = jax.vmap(lambda w: event_matvec(x, csr.with_weights(w), 12))(ws)
    np.testing.assert_allclose(ys, np.stack([x @ W, 2 * (x @ W), -(x @ W)]), atol=1e-12)


def test_pytree_through_jit():
    W = _weights_dense(17, False)
    csr = CSR.from_dense(W)
    x = _input(18, "bool")
    f = jax.jit(lambda c, x: event_matvec(x, c, 10))
    np.testing.assert_allclose(f(csr, x), x @ W, atol=1e-12)
    leaves, tree = jax.tree_util.tree_flatten(csr)
    assert len(leaves) == 5
    assert jax.tree_util.tree_unflatten(tree, leaves).shape == (N_PRE, N_POST)


def test_zero_input_and_empty_rows():
    W = _weights_dense(19, False, empty_rows=tuple(range(0, N_PRE, 2)))
    csr = CSR.from_dense(W)
    assert np.all(np.diff(np.asarray(csr.indptr))[::2] == 0)
    np.testing.assert_array_equal(event_matvec(np.zeros(N_PRE), csr, 5), np.zeros(N_POST))
    np.testing.assert_array_equal(event_matvec(np.zeros(N_PRE, bool), csr, 5), np.zeros(N_POST))
    x = np.zeros(N_PRE, bool)
    x[::2] = True  # only neurons with empty rows spike (25 > buffer of 5: overflow path too)
    for k in (5, 30):
        np.testing.assert_array_equal(event_matvec(x, csr, k), np.zeros(N_POST))
    x[1] = True
    np.testing.assert_allclose(event_matvec(x, csr, 30), x @ W, atol=1e-12)
    # an empty matrix
    empty = CSR.from_dense(np.zeros((N_PRE, N_POST), np.float32))
    y = event_matvec(np.ones(N_PRE, np.float32), empty)
    assert y.dtype == jnp.float32 and not np.any(y)


def test_all_active_and_buffer_as_large_as_population():
    W = _weights_dense(20, False)
    csr = CSR.from_dense(W)
    x = np.random.default_rng(21).normal(size=N_PRE)
    for k in (N_PRE, 7, 1):
        np.testing.assert_allclose(event_matvec(x, csr, k), x @ W, rtol=1e-12, atol=1e-12)


def test_constructors_and_to_dense():
    W = _weights_dense(22, False)
    csr = CSR.from_dense(W)
    np.testing.assert_array_equal(csr.to_dense(), W)
    assert csr.width == int(np.max((W != 0).sum(axis=1)))
    ell = np.asarray(csr.ell)
    assert ell.shape == (N_PRE + 1, csr.width)
    assert np.all(ell[-1] == N_POST + np.arange(csr.width))
    hom = CSR.from_dense(_weights_dense(23, True), homogeneous=True)
    assert hom.weights.shape == () and float(hom.weights) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        CSR.from_dense(W, homogeneous=True)
    with pytest.raises(ValueError):
        event_matvec(np.zeros(N_PRE + 1), csr)
    rebuilt = CSR.from_arrays(csr.indptr, csr.indices, csr.weights, csr.shape)
    np.testing.assert_array_equal(rebuilt.to_dense(), W)


def test_random_connectivity():
    key = jax.random.PRNGKey(0)
    c = CSR.random(key, 300, 300, 0.05, weight=0.5, dtype=jnp.float32, self_connections=False)
    D = np.asarray(c.to_dense())
    assert c.homogeneous and c.dtype == jnp.float32
    assert not np.any(np.diag(D))
    assert abs(c.nnz / (300 * 299) - 0.05) < 0.01
    assert set(np.unique(D)) <= {0.0, 0.5}
    same = CSR.random(jax.random.PRNGKey(0), 300, 300, 0.05, weight=0.5, self_connections=False)
    np.testing.assert_array_equal(np.asarray(same.indices), np.asarray(c.indices))
    other = CSR.random(jax.random.key(1), 300, 200, 0.05, weight=lambda rng, n: rng.normal(size=n),
                       dtype=jnp.float64, homogeneous=False)  # fmt: skip
    assert other.weights.shape == (other.nnz,) and other.shape == (300, 200)
    x = _input(24, "float", shape=(300,))
    np.testing.assert_allclose(event_matvec(x, other, 20), x @ np.asarray(other.to_dense()),
                               rtol=1e-12, atol=1e-12)  # fmt: skip


# ---- brainevent behind the forward (only where it is installed: the bench / fast extras) ----
def _peer_enabled() -> bool:
    from core.ops import _brainevent

    return _brainevent.enabled()


@pytest.mark.skipif(not _peer_enabled(), reason="brainevent is not in use (not installed: "
                    "pip install brainfit-workbench[fast]; or BRAINFIT_CSR_KERNEL=own)")
@pytest.mark.parametrize("homogeneous", [True, False])
def test_brainevent_forward_equals_the_own_kernel_and_dense(homogeneous):
    import dataclasses

    W = _weights_dense(5, homogeneous)
    csr = CSR.from_dense(W, homogeneous=homogeneous)
    assert csr.peer_tasks is not None
    own = dataclasses.replace(csr, peer_tasks=None)
    X = jnp.asarray(_input(6, "bool", shape=(5, N_PRE)))
    f = jax.jit(jax.vmap(lambda x, c: event_matvec(x, c, 12), in_axes=(0, None)))
    np.testing.assert_allclose(f(X, csr), f(X, own), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f(X, csr), np.asarray(X, float) @ W, rtol=1e-12, atol=1e-12)

    def scan_sum(X, c):  # inside a scan, as a network step uses it
        return jax.lax.scan(lambda acc, x: (acc + event_matvec(x, c, 12), None),
                            jnp.zeros(N_POST, W.dtype), X)[0]

    np.testing.assert_allclose(jax.jit(scan_sum)(X, csr), np.asarray(X, float).sum(0) @ W,
                               rtol=1e-12, atol=1e-12)
    # the weight gradient still comes from the own backward rule
    g = lambda c: jax.grad(lambda w: jnp.sum(jnp.tanh(event_matvec(X[0], c.with_weights(w), 12))))(
        c.weights)
    np.testing.assert_allclose(g(csr), g(own), rtol=1e-12)
