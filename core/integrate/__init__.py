"""Integrators and the simulation loop."""

from .simulate import SimulationResult, Status, simulate, simulate_arrays
from .solvers import RK4, SOLVERS, Euler, ExponentialEuler, Solver, get_solver

__all__ = ["SOLVERS", "RK4", "Euler", "ExponentialEuler", "Solver", "get_solver",
           "SimulationResult", "Status", "simulate", "simulate_arrays"]
