"""Connectivity: fixed-probability projections (with Dale's law) and connectome files.

A projection is stored as CSR over presynaptic neurons (``indptr``, ``indices`` of postsynaptic
neurons, optional per-synapse ``weights``), built in NumPy once when a network is built; the
event-driven engines walk the rows of the neurons that spiked.

Connectome files (:func:`load_connectome`) hold a square matrix with population labels, either
**population-level connection probabilities** (``kind="probability"``, P x P, entries in [0, 1])
or **neuron-level weights** (``kind="weights"``, N x N, entries >= 0: magnitudes; the sign comes
from the presynaptic population, Dale's law). Rows are presynaptic, columns postsynaptic.

* CSV: a header row ``,label1,label2,...`` then one row per presynaptic label/neuron starting with
  its label.
* NPY: a bare matrix (labels passed as ``labels=``); NPZ: arrays ``matrix`` and ``labels``.
* HDF5: dataset ``matrix`` (attribute ``kind`` optional) and dataset ``labels`` (strings).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConnectivityError


@dataclass(frozen=True)
class Projection:
    """CSR connectivity from ``n_pre`` to ``n_post`` neurons (local indices)."""

    n_pre: int
    n_post: int
    indptr: np.ndarray  # (n_pre + 1,) int64
    indices: np.ndarray  # (nnz,) int32, postsynaptic index of each synapse
    weights: np.ndarray | None = None  # (nnz,) or None for homogeneous weights

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def out_degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_dense(self, dtype=np.float64) -> np.ndarray:
        """Dense (n_pre, n_post) matrix: weights, or synapse counts when weights are None."""
        dense = np.zeros((self.n_pre, self.n_post), dtype)
        rows = np.repeat(np.arange(self.n_pre), self.out_degree())
        np.add.at(dense, (rows, self.indices), 1.0 if self.weights is None else self.weights)
        return dense


def fixed_probability(n_pre: int, n_post: int, p: float, rng: np.random.Generator, *,
                      autapses: bool = True, block: int = 512) -> Projection:
    """Each of the ``n_pre * n_post`` pairs is connected independently with probability ``p``
    (Brian2's ``connect(p=...)``); ``autapses=False`` removes ``i -> i`` (same local index)."""
    if not (np.isfinite(p) and 0.0 <= p <= 1.0):
        raise ConnectivityError(f"connection probability must lie in [0, 1], got {p!r}")
    if n_pre < 0 or n_post < 0:
        raise ConnectivityError("population sizes must be >= 0")
    counts = np.zeros(n_pre, np.int64)
    chunks = []
    for start in range(0, n_pre, block):
        stop = min(n_pre, start + block)
        mask = rng.random((stop - start, n_post), dtype=np.float32) < p
        if not autapses:
            r = np.arange(start, stop)
            ok = r < n_post
            mask[(r - start)[ok], r[ok]] = False
        counts[start:stop] = mask.sum(axis=1)
        chunks.append(np.nonzero(mask)[1].astype(np.int32))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.concatenate(chunks) if chunks else np.zeros(0, np.int32)
    return Projection(n_pre, n_post, indptr, indices)


def from_dense(matrix: np.ndarray, weighted: bool = True) -> Projection:
    """CSR of the non-zero entries of a dense (n_pre, n_post) matrix."""
    m = np.asarray(matrix)
    rows, cols = np.nonzero(m)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m.shape[0]))])
    return Projection(m.shape[0], m.shape[1], indptr, cols.astype(np.int32),
                      m[rows, cols].astype(np.float64) if weighted else None)


# ---- connectome files ------------------------------------------------------------------------
@dataclass(frozen=True)
class Connectome:
    """A square connectivity matrix with one label per row/column (rows: presynaptic)."""

    matrix: np.ndarray
    labels: tuple[str, ...]
    kind: str  # "probability" (population level) or "weights" (neuron level)
    source: str = ""

    @property
    def populations(self) -> tuple[str, ...]:
        """Distinct labels in order of first appearance."""
        return tuple(dict.fromkeys(self.labels))

    def population_sizes(self) -> dict[str, int]:
        return {name: self.labels.count(name) for name in self.populations}


def validate_connectome(matrix, labels: Sequence[str], kind: str, source: str = "") -> Connectome:
    """Check shape, finiteness and range; return a :class:`Connectome` (raises ConnectivityError)."""
    where = f"{source}: " if source else ""
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConnectivityError(f"{where}connectivity matrix is not numeric ({exc})") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ConnectivityError(f"{where}connectivity matrix must be square (pre x post), "
                                f"got shape {m.shape}")
    if m.shape[0] == 0:
        raise ConnectivityError(f"{where}connectivity matrix is empty")
    labels = tuple(str(x) for x in labels)
    if len(labels) != m.shape[0]:
        raise ConnectivityError(f"{where}{len(labels)} population labels for a "
                                f"{m.shape[0]} x {m.shape[1]} matrix")
    bad = ~np.isfinite(m)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ConnectivityError(f"{where}connectivity matrix has {int(bad.sum())} NaN/inf "
                                f"entr{'y' if bad.sum() == 1 else 'ies'} (first at row {r}, "
                                f"column {c})")
    if kind not in ("probability", "weights"):
        raise ConnectivityError(f"{where}unknown connectome kind {kind!r} "
                                "(expected 'probability' or 'weights')")
    if (m < 0).any():
        r, c = np.argwhere(m < 0)[0]
        what = "probabilities" if kind == "probability" else "weights (give magnitudes; the " \
               "sign follows the presynaptic population)"
        raise ConnectivityError(f"{where}negative {what}: {m[r, c]:g} at row {r}, column {c}")
    if kind == "probability":
        if (m > 1).any():
            r, c = np.argwhere(m > 1)[0]
            raise ConnectivityError(f"{where}connection probability {m[r, c]:g} > 1 at row {r}, "
                                    f"column {c}")
        if len(set(labels)) != len(labels):
            raise ConnectivityError(f"{where}a population-level probability matrix needs distinct "
                                    "labels")
    return Connectome(m, labels, kind, source)


def load_connectome(path, kind: str | None = None, labels: Sequence[str] | None = None
                    ) -> Connectome:
    """Read a connectome file (CSV, NPY/NPZ or HDF5; see the module docstring).

    ``kind`` defaults to the file's own ``kind`` (HDF5 attribute / NPZ array), else to
    "probability" when every label is distinct (one row per population) and "weights" when labels
    repeat (one row per neuron).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConnectivityError(f"{path}: no such connectome file")
    ext = os.path.splitext(path)[1].lower()
    file_kind = None
    try:
        if ext == ".csv":
            matrix, file_labels = _read_csv(path)
        elif ext == ".npy":
            matrix, file_labels = np.load(path, allow_pickle=False), None
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "matrix" not in z:
                    raise ConnectivityError(f"{path}: NPZ file has no 'matrix' array")
                matrix = z["matrix"]
                file_labels = [str(x) for x in z["labels"]] if "labels" in z else None
                file_kind = str(z["kind"]) if "kind" in z else None
        elif ext in (".h5", ".hdf5", ".hdf"):
            import h5py

            with h5py.File(path, "r") as f:
                if "matrix" not in f:
                    raise ConnectivityError(f"{path}: HDF5 file has no 'matrix' dataset")
                matrix = f["matrix"][()]
                file_kind = f["matrix"].attrs.get("kind")
                file_kind = file_kind.decode() if isinstance(file_kind, bytes) else file_kind
                file_labels = ([x.decode() if isinstance(x, bytes) else str(x)
                                for x in f["labels"][()]] if "labels" in f else None)
        else:
            raise ConnectivityError(f"{path}: unsupported connectome format {ext!r} "
                                    "(use .csv, .npy, .npz, .h5)")
    except ConnectivityError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ConnectivityError(f"{path}: cannot read connectome ({exc})") from None
    labels = list(labels) if labels is not None else file_labels
    if labels is None:
        raise ConnectivityError(f"{path}: no population labels (NPY files need labels=...)")
    if kind is None:
        kind = file_kind
    if kind is None:  # one label per row: population level; repeated labels: neurons
        kind = "probability" if len(set(labels)) == len(labels) else "weights"
    return validate_connectome(matrix, labels, kind, path)


def _read_csv(path: str):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ConnectivityError(f"{path}: CSV connectome needs a header row and at least one row")
    header = [c.strip() for c in rows[0][1:]]
    labels, values = [], []
    for k, r in enumerate(rows[1:], start=2):
        labels.append(r[0].strip())
        if len(r) - 1 != len(header):
            raise ConnectivityError(f"{path}: line {k} has {len(r) - 1} values, the header "
                                    f"{len(header)} labels (matrix must be square)")
        try:
            values.append([float(c) if c.strip() else np.nan for c in r[1:]])
        except ValueError as exc:
            raise ConnectivityError(f"{path}: line {k}: {exc}") from None
    if header != labels:
        raise ConnectivityError(f"{path}: row labels {labels[:4]}... differ from the column "
                                f"labels {header[:4]}...")
    return np.array(values, dtype=np.float64), labels


def connectome_projection(conn: Connectome, sizes: dict[str, int] | None,
                          rng: np.random.Generator, autapses: bool = False
                          ) -> tuple[Projection, tuple[str, ...]]:
    """A neuron-level projection (N x N) from a connectome, and the label of each neuron.

    Probability connectomes need ``sizes`` (neurons per population label); pairs between
    populations a and b connect with probability ``matrix[a, b]`` (homogeneous weights). Weight
    connectomes are used as they are (their ``sizes`` are implied by the labels)."""
    if conn.kind == "weights":
        proj = from_dense(conn.matrix, weighted=True)
        return proj, conn.labels
    if sizes is None:
        raise ConnectivityError("a probability connectome needs the size of each population")
    missing = [name for name in conn.labels if name not in sizes]
    if missing:
        raise ConnectivityError(f"no size given for population(s) {', '.join(missing)}")
    neuron_labels = tuple(name for name in conn.labels for _ in range(int(sizes[name])))
    n = len(neuron_labels)
    starts = np.cumsum([0] + [int(sizes[name]) for name in conn.labels])
    p = np.zeros((n, n), np.float32)
    for a in range(len(conn.labels)):
        for b in range(len(conn.labels)):
            p[starts[a]:starts[a + 1], starts[b]:starts[b + 1]] = conn.matrix[a, b]
    mask = rng.random((n, n), dtype=np.float32) < p
    if not autapses:
        np.fill_diagonal(mask, False)
    return from_dense(mask, weighted=False), neuron_labels
