"""The engine: runs a workflow's steps for one case, and the robot that keeps its sessions.

Owns: the step walker with retries, timeouts, ``in`` blocks, human steps and checkpoints
(``runner``), the records it keeps of a run (``records``), the gateway to human tasks and
callouts (``human_gateway``), the robot's long-lived system sessions (``robot``) and
``run.py run`` (``cli``).

May import: ``robots.errors``, ``robots.masking``, ``robots.language``, ``robots.drivers``
and ``connectors`` (vaults). Actions are found through the registry, not imported.
"""
