"""The worker: robot processes that claim cases and run them with the engine.

Owns: ``run.py worker``, the supervisor that starts, watches and stops robot processes
(``supervisor``), running one claimed case with the engine (``execution``), and what a
draining batch run still waits for (``drain``).

May import: ``orchestrator.service``, ``orchestrator.queue``, ``orchestrator.humans``,
``orchestrator.errors``, ``orchestrator.models``, ``robots`` and ``connectors``, and
``orchestrator.storage.db`` for the database's URL; never the control room.
"""
