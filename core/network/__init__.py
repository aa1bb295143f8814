"""Spiking networks: populations, connectivity, synapses, chunked runs, templates, jobs.

Public surface for the GUI: :class:`SimulateJob`, :class:`NetworkResult` (save/load HDF5),
``TEMPLATES`` (each with ParamSpecs and a docstring), :class:`SpikePreview` (the ``preview`` of
:class:`~core.events.SimulationProgress` events).
"""

from .connectivity import (
                           Connectome,
                           Projection,
                           fixed_probability,
                           load_connectome,
                           validate_connectome,
)
from .jobs import SimulateJob
from .populations import Population, layout
from .run import NetworkEngine, NetworkResult, SpikePreview, run_network
from .templates import TEMPLATES, Template, get_template

__all__ = ["Connectome", "Projection", "fixed_probability", "load_connectome",
           "validate_connectome", "SimulateJob", "Population", "layout", "NetworkEngine",
           "NetworkResult", "SpikePreview", "run_network", "TEMPLATES", "Template",
           "get_template"]
