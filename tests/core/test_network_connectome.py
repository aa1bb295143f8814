"""Connectome files (CSV, NPY/NPZ, HDF5) and fixed-probability connectivity: clear errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from core.errors import ConnectivityError
from core.network.connectivity import (
    connectome_projection,
    fixed_probability,
    load_connectome,
)


def _csv(path, labels, rows):
    lines = ["," + ",".join(labels)]
    lines += [lab + "," + ",".join(str(v) for v in r) for lab, r in zip(labels, rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_probability_csv_round_trip_and_projection(tmp_path):
    conn = load_connectome(_csv(tmp_path / "c.csv", ["E", "I"], [[0.1, 0.4], [0.5, 0.0]]))
    assert conn.kind == "probability" and conn.labels == ("E", "I")
    proj, labels = connectome_projection(conn, {"E": 400, "I": 100}, np.random.default_rng(0))
    dense = proj.to_dense()
    assert labels.count("E") == 400
    assert dense[:400, :400].mean() == pytest.approx(0.1, abs=0.01)
    assert dense[:400, 400:].mean() == pytest.approx(0.4, abs=0.02)
    assert dense[400:, 400:].sum() == 0


def test_weights_npy_npz_and_hdf5(tmp_path):
    w = np.abs(np.random.default_rng(1).standard_normal((6, 6)))
    np.save(tmp_path / "w.npy", w)
    labels = ["E"] * 4 + ["I"] * 2
    c = load_connectome(tmp_path / "w.npy", labels=labels)
    assert c.kind == "weights" and c.population_sizes() == {"E": 4, "I": 2}
    np.savez(tmp_path / "w.npz", matrix=w, labels=np.array(labels))
    np.testing.assert_array_equal(load_connectome(tmp_path / "w.npz").matrix, w)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["matrix"] = w
        f["labels"] = np.array(labels, dtype="S")
    c = load_connectome(tmp_path / "w.h5")
    proj, _ = connectome_projection(c, None, np.random.default_rng(0))
    np.testing.assert_allclose(proj.to_dense(), w)


def test_wrong_shape(tmp_path):
    np.save(tmp_path / "rect.npy", np.zeros((3, 4)))
    with pytest.raises(ConnectivityError, match="must be square"):
        load_connectome(tmp_path / "rect.npy", labels=["a", "b", "c"])
    np.save(tmp_path / "sq.npy", np.zeros((3, 3)))
    with pytest.raises(ConnectivityError, match="2 population labels for a 3 x 3"):
        load_connectome(tmp_path / "sq.npy", labels=["a", "b"])
    p = tmp_path / "ragged.csv"
    p.write_text(",E,I\nE,0.1,0.2\nI,0.3\n")
    with pytest.raises(ConnectivityError, match="line 3 has 1 values"):
        load_connectome(p)


def test_negative_probability(tmp_path):
    with pytest.raises(ConnectivityError, match=r"negative probabilities: -0.2 at row 1, column 0"):
        load_connectome(_csv(tmp_path / "n.csv", ["E", "I"], [[0.1, 0.1], [-0.2, 0.1]]))
    with pytest.raises(ConnectivityError, match="probability 1.5 > 1"):
        load_connectome(_csv(tmp_path / "b.csv", ["E", "I"], [[1.5, 0.1], [0.2, 0.1]]))
    with pytest.raises(ConnectivityError, match="must lie in"):
        fixed_probability(10, 10, -0.1, np.random.default_rng(0))


def test_nans(tmp_path):
    with pytest.raises(ConnectivityError, match=r"1 NaN/inf entry \(first at row 0, column 1\)"):
        load_connectome(_csv(tmp_path / "nan.csv", ["E", "I"], [[0.1, "nan"], [0.2, 0.1]]))
    m = np.ones((2, 2))
    m[1, 1] = np.inf
    np.save(tmp_path / "inf.npy", m)
    with pytest.raises(ConnectivityError, match="NaN/inf"):
        load_connectome(tmp_path / "inf.npy", labels=["E", "I"])


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(ConnectivityError, match="no such connectome file"):
        load_connectome(tmp_path / "absent.csv")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(ConnectivityError, match="unsupported connectome format"):
        load_connectome(tmp_path / "x.txt")
    np.save(tmp_path / "nolabels.npy", np.zeros((2, 2)))
    with pytest.raises(ConnectivityError, match="no population labels"):
        load_connectome(tmp_path / "nolabels.npy")


def test_fixed_probability_rows_are_the_dense_matrix():
    proj = fixed_probability(300, 200, 0.05, np.random.default_rng(2), autapses=False)
    dense = proj.to_dense()
    assert dense.mean() == pytest.approx(0.05, abs=0.005)
    assert np.all(np.diag(dense[:200, :200]) == 0)
    deg = proj.out_degree()
    for i in (0, 5, 299):
        row = proj.indices[proj.indptr[i]:proj.indptr[i + 1]]
        assert len(row) == deg[i]
        np.testing.assert_array_equal(np.sort(row), np.nonzero(dense[i])[0])
