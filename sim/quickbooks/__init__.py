"""Simulated QuickBooks Desktop company file (see ``engine.CompanyFile``)."""

from sim.quickbooks.engine import CompanyFile, ProcessResult, StatusError
from sim.quickbooks.latency import LatencyModel, SimClock
from sim.quickbooks.seed import seed_company
from sim.quickbooks.strict import QBXMLSetError, Validator

__all__ = ["CompanyFile", "LatencyModel", "ProcessResult", "QBXMLSetError", "SimClock", "StatusError", "Validator", "seed_company"]
