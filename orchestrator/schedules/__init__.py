"""Schedules: batch runs that turn a file or a query into cases on a cron or a calendar.

Owns: the schedule's model and its fire times (``model``), reading schedule files into it
with every problem located (``loading``), the sources rows come from - CSV, Excel, SQL
(``sources``), one fire's record - claimed once however many servers run it, its
summary, the misfire policy's choice (``fires``), the APScheduler background scheduler
(``scheduler``), the scheduler service that fires each schedule (``service``), writing a
schedule file from the admin screens after the same checks (``editing``), and
``run.py schedules`` (``schedule_console``).

May import: ``orchestrator.storage``, ``orchestrator.service`` (cases are created through
the store), ``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""
