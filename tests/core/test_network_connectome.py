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


# ---- a connectome file as the training network's connectivity --------------------------------
def _write_csv(path, labels, matrix):
    rows = [",".join([""] + list(labels))]
    rows += [",".join([lab] + [f"{x:g}" for x in row]) for lab, row in zip(labels, matrix)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_ei_connectome_file_sets_the_training_networks_block_probabilities(tmp_path):
    from core.training.ei_network import EINetConfig, connectome_probabilities, init_network

    # written I first: the rows and columns are matched by label, not by position
    path = _write_csv(tmp_path / "ei.csv", ["I", "E"], [[0.9, 0.3], [0.0, 0.5]])
    pm = connectome_probabilities(path)
    assert pm == ((0.5, 0.0), (0.3, 0.9))  # rows pre (E, I), columns post (E, I)
    ne, ni = 120, 40
    cfg = EINetConfig(n_exc=ne, n_inh=ni, n_in=4, p_matrix=pm)
    structure, _ = init_network(cfg, seed=2)
    n = ne + ni

    def pattern(csr):
        indptr, indices = np.asarray(csr.indptr), np.asarray(csr.indices)
        m = np.zeros((indptr.size - 1, n), bool)
        for row in range(indptr.size - 1):
            m[row, indices[indptr[row]:indptr[row + 1]]] = True
        return m

    mask = np.concatenate([pattern(structure.csr_e), pattern(structure.csr_i)])
    assert mask.shape == (n, n) and not mask[np.arange(n), np.arange(n)].any()
    blocks = {"EE": mask[:ne, :ne], "EI": mask[:ne, ne:], "IE": mask[ne:, :ne],
              "II": mask[ne:, ne:]}
    assert not blocks["EI"].any()  # probability 0: E never contacts I
    for key, p, size in (("EE", 0.5, ne * ne - ne), ("IE", 0.3, ni * ne),
                         ("II", 0.9, ni * ni - ni)):
        density = blocks[key].sum() / size
        assert abs(density - p) < 4 * np.sqrt(p * (1 - p) / size) + 1e-9, (key, density)
    # the setting survives the result file's round trip
    again = EINetConfig.from_dict(cfg.to_dict())
    assert again.p_matrix == pm


def test_connectomes_the_ei_network_cannot_take_are_refused_with_the_reason(tmp_path):
    from core.errors import ParameterError
    from core.training.ei_network import EINetConfig, connectome_probabilities

    with pytest.raises(ParameterError, match="labels E and I"):
        connectome_probabilities(_write_csv(tmp_path / "abc.csv", ["A", "B"],
                                            [[0.1, 0.2], [0.3, 0.4]]))
    with pytest.raises(ConnectivityError, match="> 1"):
        connectome_probabilities(_write_csv(tmp_path / "bad.csv", ["E", "I"],
                                            [[0.1, 1.5], [0.3, 0.4]]))
    with pytest.raises(ConnectivityError, match="no such connectome"):
        connectome_probabilities(tmp_path / "missing.csv")
    with pytest.raises(ParameterError, match="p_matrix"):
        EINetConfig(n_exc=8, n_inh=2, p_matrix=((0.1, 0.2), (0.3,)))


def test_brainfit_train_refuses_a_connectome_of_other_populations(tmp_path, capsys):
    from workbench.cli import main

    path = _write_csv(tmp_path / "abc.csv", ["A", "B"], [[0.1, 0.2], [0.3, 0.4]])
    code = main(["train", "--task", "evidence", "--connectome", str(path), "--batches", "1"])
    assert code == 2
    assert "labels E and I" in capsys.readouterr().err
