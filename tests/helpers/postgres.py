"""Moved to ``mlc/pgserver.py`` (the cluster benchmark starts the same server); kept so that
imports of the old place still work."""

from mlc.pgserver import TEMPLATE, PostgresServer, find_binary

__all__ = ["TEMPLATE", "PostgresServer", "find_binary"]
