"""Core: what every feature stands on — settings from the environment, engines and sessions, the clock, domain
errors, the schema (Alembic), the audit log's writer, logging and secret redaction, text-length helpers for
WeChat's byte limits, and the one raw-driver pipeline.

May import: `models` only. Everything else may import core.
"""
