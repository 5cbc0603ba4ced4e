"""Durable CDS Hooks feedback, the cards it refers to, and the override report (SQLAlchemy; SQLite or PostgreSQL)."""
