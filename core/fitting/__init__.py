"""Fitting neuron models to recordings: objective, losses, optimizers, uncertainty, jobs.

Public API (what the GUI and scripts call)::

    from core.fitting import (Objective, LossSpec, Budget, run_fit, FitJob, CompareJob,
                              available_methods, default_budget, FitResult, ComparisonResult)
"""

from .compare import compare
from .fit import run_fit
from .jobs import CompareJob, FitJob, ObjectiveSpec
from .losses import gamma_factor, mse, van_rossum
from .objective import LossSpec, Objective
from .optimizers import Budget, available_methods, default_budget, describe_methods
from .predict import Prediction, PredictJob, predict
from .results import ComparisonResult, FitResult, load_fit

__all__ = ["Budget", "CompareJob", "FitJob", "ObjectiveSpec", "compare", "ComparisonResult", "FitResult", "LossSpec", "Objective",
           "available_methods", "default_budget", "describe_methods", "gamma_factor",
           "load_fit", "mse", "predict", "Prediction", "PredictJob", "run_fit", "van_rossum"]
