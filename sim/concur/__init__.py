"""Concur simulator (imports only ``shared`` and third-party libraries, never ``worker``).

``server.ConcurSim`` is the programmatic API; ``cli.concur`` is ``mlc sim concur``.
"""
