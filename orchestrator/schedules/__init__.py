"""Schedules: batch runs that turn a file or a query into cases on a cron or a calendar.

Owns: the schedule files' model and checks (``model``), the sources rows come from - CSV,
Excel, SQL (``sources``), the scheduler service that fires each schedule once however
many servers run it (``service``), writing a schedule file from the admin screens after the
same checks (``editing``), and ``run.py schedules`` (``cli``).

May import: ``orchestrator.storage``, ``orchestrator.service`` (cases are created through
the store), ``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""
