"""The queue: cases from creation to their final state.

Owns: creating, finding, listing, retrying and cancelling cases, the audit trail, retention
(``cases``); claiming with leases, heartbeats, checkpoints and finishing a run on the fast
path (``claims``); the engine's hooks backed by the database (``runtime``: ``CaseListener``,
``DurableHumans``); KPIs over cases and tasks (``kpis``); finding cases by any filter and
bulk retry / cancel (``search``); ``run.py cases`` and ``run.py tasks`` (``cli``).

May import: ``orchestrator.humans`` (a failed case opens a task), ``orchestrator.storage``,
``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""
