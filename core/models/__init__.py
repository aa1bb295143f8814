"""Neuron models: immutable pytrees with pure methods, vectorised over neurons and parameter sets."""

from .adex import AdEx
from .base import MODELS, NeuronModel, get_model, neuron_model
from .gif import GIF
from .hh import HHCortical, HHSquid
from .izhikevich import Izhikevich
from .lif import LIF

__all__ = ["MODELS", "NeuronModel", "get_model", "neuron_model", "LIF", "GIF", "HHCortical",
           "HHSquid", "AdEx", "Izhikevich"]
