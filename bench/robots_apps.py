"""The demo apps for the robot benchmark, in a process of their own.

The apps are the systems the robots work in, so they must not share a Python interpreter
(and its GIL) with any robot being measured. The parent talks to this process over a pipe:
free the booked delivery slots between batches (each supplier has only a few slots a week),
count the effects the robots left in the apps' audit logs, and hand out the robots'
environment (the apps' URLs and, started on first ask, a mail sink's SMTP settings: the
mail server is another system the robots talk to, so it runs here too).
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from connectors.mail_sink import MailSink
from demo.server import DemoApps


def free_slots(apps: DemoApps) -> None:
    """Forget every booking of both supplier portals (their sessions stay logged in)."""
    for name in ("nordlog", "suedexpress"):
        app = apps.apps[name]
        with app.lock:
            app.extra.get("booked", {}).clear()


def effects(apps: DemoApps) -> dict[str, int]:
    """How many addresses were changed and slots booked, per app, from the audit logs."""
    counts: dict[str, int] = {}
    for name, app in apps.apps.items():
        with app.lock:
            for entry in app.audit_log:
                if entry["action"] in ("address_changed", "slot_booked"):
                    key = f"{name}.{entry['action']}"
                    counts[key] = counts.get(key, 0) + 1
    return counts


def serve_apps(conn: Connection, ports: dict[str, int], data_dir: str) -> None:
    """Run the demo apps on ``ports`` and answer the parent's commands until ``stop``."""
    apps = DemoApps(ports=ports, data_dir=Path(data_dir)).start()
    sink: MailSink | None = None
    try:
        conn.send(("ready", apps.urls))
        while True:
            command: tuple[Any, ...] = conn.recv()
            if command[0] == "free_slots":
                free_slots(apps)
                conn.send(("ok", None))
            elif command[0] == "effects":
                conn.send(("ok", effects(apps)))
            elif command[0] == "env":
                if sink is None:
                    sink = MailSink().start()
                conn.send(("ok", {**apps.env(), **sink.env()}))
            elif command[0] == "stop":
                break
            else:
                conn.send(("error", f"unknown command {command[0]!r}"))
    except EOFError:  # the parent died: stop the apps too
        pass
    finally:
        if sink is not None:
            sink.stop()
        apps.stop()
