"""Synaptic operators: the event-driven CSR product (custom VJP) and its dense reference."""

from .csr import CSR, csr_matvec, default_max_active, event_matmat, event_matvec
from .dense import dense_matvec

__all__ = [
    "CSR",
    "csr_matvec",
    "default_max_active",
    "dense_matvec",
    "event_matmat",
    "event_matvec",
]
