"""Operator API (/api/v1): placeholder until the operator API lands."""

from quart import Blueprint

blueprint = Blueprint("operator_api", __name__, url_prefix="/api/v1")
