"""Neuron models: immutable pytrees with pure methods, vectorised over neurons and parameter sets."""

from .base import MODELS, NeuronModel, get_model, neuron_model
from .lif import LIF
from .gif import GIF
from .hh import HHCortical, HHSquid
from .adex import AdEx
from .izhikevich import Izhikevich

__all__ = ["MODELS", "NeuronModel", "get_model", "neuron_model", "LIF", "GIF", "HHCortical",
           "HHSquid", "AdEx", "Izhikevich"]
