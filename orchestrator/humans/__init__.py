"""Humans: the people half of the tandem.

Owns: human tasks, their life cycle, answers, comments, escalation and SLAs, and stored
callouts (``tasks``); the organisation (units, queues), users with their roles and
passwords, and channel tokens (``people``, default organisation in ``org.yaml``); the same
changed by an admin, with the admin audit log (``administration``).

May import: ``orchestrator.storage``, ``orchestrator.errors``, ``orchestrator.models`` and
``robots``.
"""
