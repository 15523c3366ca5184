"""The worker: robot processes that claim cases and run them with the engine.

Owns: ``run.py worker``, the supervisor that starts, watches and stops robot processes
(``supervisor``), and running one claimed case with the engine (``execution``).

May import: ``orchestrator.service``, ``orchestrator.queue``, ``orchestrator.humans``,
``orchestrator.errors``, ``orchestrator.models``, ``robots`` and ``connectors``; never the
control room or storage directly.
"""
