"""Alembic migrations of the feedback store, run by the service at start."""
