"""Moved to ``mlc/balancer.py`` (the cluster benchmark puts the same balancer in front of its
workers); kept so that imports of the old place still work."""

from mlc.balancer import Balancer

__all__ = ["Balancer"]
