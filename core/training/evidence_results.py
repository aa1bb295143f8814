"""The result of an evidence-task training: weights, history, Fig. 3 data, HDF5.

Fig. 3 as data (:func:`figure_data`): for one held-out trial the input raster, the E/I raster, the
membranes (mV) of 5 excitatory and 5 inhibitory neurons and the readout; the weight histograms
before and after training, with a Gaussian-tail (half-normal) fit of the excitatory magnitudes
and a log-normal fit of the inhibitory ones (parameters and Kolmogorov-Smirnov statistic).

Files are written atomically (:func:`core.io.atomic.atomic_path`: a temporary file beside the
target, then ``os.replace``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError

LAYOUT = "brainfit-evidence-train-1"


def versions() -> dict[str, str]:
    from .. import library_versions

    return library_versions("jax", "optax", "numpy")


def fit_weights(w: np.ndarray, kind: str) -> dict[str, float]:
    """Fit the weight magnitudes ``w``: ``kind="gaussian_tail"`` a half-normal (the positive
    tail of N(0, sigma^2)), ``kind="lognormal"`` a log-normal; parameters and the KS statistic
    (and its p-value). Zero weights are left out of the log-normal."""
    from scipy import stats

    w = np.abs(np.asarray(w, np.float64).ravel())
    if kind == "gaussian_tail":
        _, scale = stats.halfnorm.fit(w, floc=0.0)
        ks = stats.kstest(w, "halfnorm", args=(0.0, scale))
        return {"sigma": float(scale), "ks": float(ks.statistic), "p": float(ks.pvalue),
                "n": int(w.size)}
    if kind == "lognormal":
        w = w[w > 0]
        s, _, scale = stats.lognorm.fit(w, floc=0.0)
        ks = stats.kstest(w, "lognorm", args=(s, 0.0, scale))
        return {"mu": float(np.log(scale)), "sigma": float(s), "ks": float(ks.statistic),
                "p": float(ks.pvalue), "n": int(w.size)}
    raise ValueError(f"unknown fit kind {kind!r}")


def _hist(w, bins=40):
    w = np.abs(np.asarray(w, np.float64).ravel())
    counts, edges = np.histogram(w, bins=bins)
    return {"counts": counts.astype(np.int64), "edges": edges}


def figure_data(trainer, params_before: dict, params_after: dict, trial: int = 0) -> dict:
    """Fig. 3 data for held-out trial ``trial`` with ``params_after``
    (:func:`core.training.evidence_view.trial_data`); weight histograms and fits before and
    after."""
    from .evidence_view import trial_data

    cfg = trainer.cfg
    out: dict[str, Any] = trial_data(cfg.network, cfg.task, trainer.structure, params_after,
                                     trial)
    hist, fits = {}, {}
    for when, prm in (("before", params_before), ("after", params_after)):
        for name in ("w_e", "w_i", "w_in"):
            hist[f"{name}_{when}"] = _hist(prm[name])
        fits[f"exc_{when}"] = fit_weights(prm["w_e"], "gaussian_tail")
        fits[f"inh_{when}"] = fit_weights(prm["w_i"], "lognormal")
    out["histograms"] = hist
    out["fits"] = fits
    return out


@dataclass
class EvidenceTrainResult:
    """A finished (or cancelled / stopped) training. ``params`` are the best held-out weights,
    ``params_last`` the last ones, ``params_init`` the initial ones (magnitudes; Dale's law by
    ``|W|``)."""

    config: dict[str, Any]
    params: dict[str, np.ndarray]
    params_init: dict[str, np.ndarray]
    params_last: dict[str, np.ndarray]
    structure: dict[str, dict[str, np.ndarray]]
    history: dict[str, np.ndarray] = field(default_factory=dict)
    evals: dict[str, np.ndarray] = field(default_factory=dict)
    heldout_accuracy: float = float("nan")
    best_batch: int = 0
    reservoir_accuracy: float = float("nan")
    batches_done: int = 0
    cancelled: bool = False
    stop_reason: str = ""
    elapsed_s: float = 0.0
    compile_s: float = 0.0
    figure: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    gradient: dict[str, float] = field(default_factory=dict)
    paused: bool = False  # stopped to be resumed (the Training panel's Pause)
    # where the training stopped, to continue it (core.training.evidence.TrainState; the
    # file's group "resume")
    state: Any = field(default=None, repr=False, compare=False)

    @property
    def train_config(self):
        from .evidence import EvidenceTrainConfig

        return EvidenceTrainConfig.from_dict(self.config)

    def summary(self) -> dict[str, Any]:
        cfg = self.config
        sec = self.history.get("seconds", np.zeros(0))
        per_batch = float(np.median(sec[1:])) if len(sec) > 1 else float("nan")
        return {"task": "evidence", "method": cfg.get("method"),
                "rule": cfg.get("rule") if cfg.get("method") == "online" else None,
                "neurons": cfg["network"]["neurons"].get("source", "default"),
                "batches_done": self.batches_done, "batch_size": cfg.get("batch_size"),
                "heldout_accuracy": self.heldout_accuracy, "best_batch": self.best_batch,
                "reservoir_accuracy": self.reservoir_accuracy,
                "n_heldout": cfg.get("n_heldout"), "seconds": round(self.elapsed_s, 2),
                "compile_seconds": round(self.compile_s, 2),
                "seconds_per_batch": round(per_batch, 4), "cancelled": self.cancelled,
                "stop_reason": self.stop_reason, "nonfinite_batches":
                    int(np.sum(self.history.get("finite", np.ones(0)) == 0)),
                **self.gradient}

    # ---- HDF5 --------------------------------------------------------------------------------
    def to_hdf5(self, path) -> None:
        """Write the file ``path`` atomically (the result in its group ``evidence_training``)."""
        import h5py

        from ..io.atomic import atomic_path

        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            self.write_group(f.create_group("evidence_training"))

    def write_group(self, g) -> None:
        """Write the result into the (empty) h5py group ``g`` (a project's ``/training``)."""
        g.attrs["layout"] = LAYOUT
        meta = {k: getattr(self, k) for k in (
            "config", "heldout_accuracy", "best_batch", "reservoir_accuracy",
            "batches_done", "cancelled", "stop_reason", "elapsed_s", "compile_s", "notes",
            "versions", "gradient", "paused")}
        g.attrs["meta"] = json.dumps(meta, allow_nan=True)
        if self.state is not None:
            self.state.write_group(g.create_group("resume"))
        for gname in ("params", "params_init", "params_last", "history", "evals"):
            sub = g.create_group(gname)
            for k, v in getattr(self, gname).items():
                sub.create_dataset(k, data=np.asarray(v))
        st = g.create_group("structure")
        for name, d in self.structure.items():
            s = st.create_group(name)
            for k, v in d.items():
                s.create_dataset(k, data=np.asarray(v))
        _write_tree(g.create_group("figure"), self.figure)

    @classmethod
    def from_hdf5(cls, path) -> EvidenceTrainResult:
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise ParameterError(f"{path}: not a readable HDF5 file ({exc})") from None
        with f:
            g = f.get("evidence_training")
            if g is None or g.attrs.get("layout") != LAYOUT:
                raise ParameterError(f"{path}: holds no evidence-task training result")
            return cls.read_group(g)

    @classmethod
    def read_group(cls, g) -> EvidenceTrainResult:
        """The result :meth:`write_group` wrote into ``g``."""
        if g.attrs.get("layout") != LAYOUT:
            raise ParameterError(f"{g.name}: holds no evidence-task training result")
        meta = json.loads(g.attrs["meta"])
        arrays = {name: {k: np.asarray(v) for k, v in g[name].items()}
                  for name in ("params", "params_init", "params_last", "history", "evals")}
        structure = {name: {k: np.asarray(v) for k, v in s.items()}
                     for name, s in g["structure"].items()}
        out = cls(**meta, **arrays, structure=structure, figure=_read_tree(g["figure"]))
        if "resume" in g:
            from .evidence import TrainState

            out.state = TrainState.read_group(g["resume"])
        return out

    def network(self):
        """``(config, structure, params)`` to simulate the trained network
        (:func:`core.training.ei_network.run_trials`)."""
        import jax.numpy as jnp

        from .evidence_view import structure_from_arrays

        cfg = self.train_config
        return (cfg.network, structure_from_arrays(cfg.network, self.structure),
                {k: jnp.asarray(v) for k, v in self.params.items()})


def _write_tree(group, tree: dict) -> None:
    for k, v in tree.items():
        if isinstance(v, dict):
            _write_tree(group.create_group(k), v)
        elif isinstance(v, (int, float, str, bool)):
            group.attrs[k] = v
        else:
            group.create_dataset(k, data=np.asarray(v))


def _read_tree(group) -> dict:
    import h5py

    out: dict[str, Any] = {k: (v.item() if hasattr(v, "item") else v)
                           for k, v in group.attrs.items()}
    for k, v in group.items():
        out[k] = _read_tree(v) if isinstance(v, h5py.Group) else np.asarray(v)
    return out
