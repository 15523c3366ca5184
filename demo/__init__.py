"""The demo back-office: legacy-looking apps robots drive, and ``run.py demo`` itself.

Owns: the web apps (``crm``, ``billing``, ``suppliers`` on ``common``'s shared page kit and
``data``), served by ``server``; the desktop green screen (``desktop_terminal``, Tk) and a
character host for terminal systems (``host``, curses); and the demo runner (``launcher``) that
starts the apps, a mail sink, the control room and robot workers together (the control
room's thread and the robots' process group: ``processes``; the cases it submits:
``case_mix``).

May import anything: it is the top of the dependency graph; nothing imports it but tests,
benchmarks and ``run.py`` (its ``commandline``).
"""
