"""The queue: cases from creation to their final state.

Owns: creating, finding, listing, retrying and cancelling cases, the audit trail, retention
(``cases``); a robot's runs of cases: claiming with leases, heartbeats, checkpoints, outcomes
and retries (``runs``), the claim and a successful finish on the fast path (``claims``) with its
statements built once (``claim_statements``); the engine's hooks backed by the database
(``runtime``: ``CaseListener``, ``DurableHumans``); KPIs over cases and tasks (``kpis``);
finding cases by any filter and bulk retry / cancel (``search``); ``run.py cases`` and ``run.py
tasks`` (``case_console``).

May import: ``orchestrator.humans`` (a failed case opens a task), ``orchestrator.storage``,
``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""
