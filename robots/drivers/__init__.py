"""The drivers: the sessions a robot works in, one per system of a workflow.

Owns: the system-session contract the engine uses (``systems``), Chromium's launch
(``browser``) and the environment its processes start with (``clean_env``), a logged-in web
system's session (``web_session``) and its login watch (``web_login``), desktop programs on
an X display (``desktop_session``) with exact typing by X keysyms (``keysyms``), window focus
(``xwindow``) and screen text by OCR (``ocr``), character programs in a pseudo-terminal read
with pyte (``terminal_session``), and the virtual display itself (``display``).

May import: ``robots.errors``, ``robots.masking``, ``robots.language``.
"""
