"""Posting: from an approved Concur document to QuickBooks transactions.

Pure planning (no clock, store or network): ``plan.plan_document`` with ``split`` (allocation
amounts), ``keys`` (RefNumbers, ExternalGUIDs), ``mapping`` (Concur codes to QuickBooks names),
``vendors`` (which vendor) and ``reconcile``. The outbox, state machine, settlement and audit
live beside them.
"""
