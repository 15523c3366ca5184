"""Tandem robots: the workflow language, the engine, the action library."""

# Imported first for its effect: loguru's default sink prints local variables (passwords,
# payloads) in tracebacks; robots.logs replaces it with a masked one in every process.
from robots import logs as _logs  # noqa: F401
