"""Concur webhook intake: placeholder until the Concur side lands."""

from quart import Blueprint

blueprint = Blueprint("intake", __name__)
