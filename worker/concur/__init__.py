"""The Concur side of the worker.

Pure cores: ``oauth`` (token forms/responses/errors), ``webhooks`` (signature, envelope),
``normalise`` (Concur JSON -> shared.domain). I/O shells: ``client`` (ConcurClient: tokens,
routing, retries), ``fetch`` (one document in full), ``sweep`` (modified since a checkpoint).
Seams for the store: ``tokens.TokenStore`` and ``fetch.ListItemCache``.
"""
