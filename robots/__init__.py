"""Tandem robots: the workflow language, the engine, the drivers and the action library.

Subpackages, each importing only those listed before it (``tests/unit/test_layout.py``):

- ``robots.errors``, ``robots.masking`` and ``robots.logs``: the failure hierarchy (business /
  system), the masking of personal values and secrets, and log sinks that never print them;
  everything may use them.
- ``robots.language``: the workflow language as data: YAML source with positions, the
  immutable model, loading and checking, expressions, input schemas, business rules,
  explanations, the action registry (names and parameter models), the JSON Schema and the
  generated action reference, and a project's folders.
- ``robots.drivers``: the sessions robots work in: a browser (Playwright) and its web
  sessions, desktop sessions on an X display, and the system-session contract.
- ``robots.actions``: one module per action namespace (``web.*``, ``desktop.*``, ``files.*``,
  ``http.*``, ``mail.*``, ``core.*``), registered with ``@action``; found by the registry by
  name, never imported by the language or the engine.
- ``robots.engine``: runs a workflow's steps: checkpoints and records, the human gateway,
  the robot's long-lived sessions, and ``run.py run``.

Robots never import the orchestrator: the orchestrator plugs into the engine through
``RunListener`` and ``HumanGateway``.
"""

# Imported first for its effect: loguru's default sink prints local variables (passwords,
# payloads) in tracebacks; robots.logs replaces it with a masked one in every process.
from robots import logs as _logs  # noqa: F401
