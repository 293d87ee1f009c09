"""Scenario simulator: honest users and the attacks of the source documents, with labels.

>>> from fengkong.sim import SimConfig, write_simulation  # doctest: +SKIP
"""

from fengkong.sim.engine import SimConfig, SimStats, describe, simulate, write_simulation
from fengkong.sim.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "SimConfig", "SimStats", "describe", "simulate", "write_simulation"]
