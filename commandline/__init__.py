"""The command line behind ``run.py``: each module holds one group of commands (Typer).

Owns: what every command shares - the consoles, ``fail``, the ``--project``, ``--data-dir``
and ``--database-url`` options, settling a command's project and database (``options``);
the workflow author's commands validate, init, schema, actions, run, record
(``authoring_commands``); the long-running ones demo-apps, serve, demo, worker
(``start_commands``); ``run.py token`` (``token_commands``); ``run.py cases`` and
``run.py tasks`` (``case_commands``); ``run.py schedules`` (``schedule_commands``).
``run.py`` itself makes the root command and adds these in the order ``--help`` lists them.

May import anything, like ``demo``: it is the top of the dependency graph, and imports
what a command needs inside the command, so ``run.py --help`` stays fast. Nothing imports
it but ``run.py`` and tests.
"""
