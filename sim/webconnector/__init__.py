"""Simulated QuickBooks Web Connector (see ``client.run_session``)."""

from sim.webconnector.client import SessionReport, run_every, run_session
from sim.webconnector.knobs import FaultKnobs

__all__ = ["FaultKnobs", "SessionReport", "run_every", "run_session"]
