"""Integrators and the simulation loop."""

from .solvers import SOLVERS, RK4, Euler, ExponentialEuler, Solver, get_solver
from .simulate import SimulationResult, Status, simulate, simulate_arrays

__all__ = ["SOLVERS", "RK4", "Euler", "ExponentialEuler", "Solver", "get_solver",
           "SimulationResult", "Status", "simulate", "simulate_arrays"]
