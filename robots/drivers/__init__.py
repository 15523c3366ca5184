"""The drivers: the sessions a robot works in, one per system of a workflow.

Owns: the system-session contract the engine uses (``systems``), Chromium's launch
(``browser``), a logged-in web system's session (``web_session``), desktop programs on an
X display (``desktop_session``) and the virtual display itself (``display``).

May import: ``robots.errors``, ``robots.masking``, ``robots.language``.
"""
