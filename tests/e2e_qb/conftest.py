"""The QuickBooks-side end-to-end tests import their helpers from ``e2e_qb_helpers`` (a unique
module name: several test folders have a conftest.py, so ``from conftest import`` is ambiguous)."""
