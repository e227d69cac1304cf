"""QBWC SOAP endpoint: placeholder until the QuickBooks side lands."""

from quart import Blueprint

blueprint = Blueprint("qbwc", __name__)
