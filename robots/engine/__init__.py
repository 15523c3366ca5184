"""The engine: runs a workflow's steps for one case, and the robot that keeps its sessions.

Owns: the ``Engine``, a run and what each kind of step does, ``in`` blocks included
(``runner``); how steps are walked, with checkpoints, retries and timeouts (``walker``); the
steps that involve people (``human_steps``); what a run carries while it runs
(``run_context``); the records it keeps of a run (``records``), the gateway to human tasks
and callouts (``human_gateway``), the robot's long-lived system sessions (``robot``),
``run.py run`` (``run_console``) and ``run.py record`` (``record_console``).

May import: ``robots.errors``, ``robots.masking``, ``robots.language``, ``robots.drivers``
and ``connectors`` (vaults). Actions are found through the registry, not imported.
"""
