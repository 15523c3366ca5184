"""``python -m demo`` (or ``run.py demo-apps``): the demo web apps on localhost until Ctrl-C."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from demo.data import LOGINS
from demo.server import DEFAULT_PORTS, ENV_NAMES, start_demo_apps


class PortTaken(RuntimeError):
    """A port the demo apps should listen on is in use."""


def _taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def serve(
    ports: dict[str, int] | None = None, *, host: str = "127.0.0.1", data_dir: Path | None = None
) -> None:
    """Start the apps (``ports=None``: free ports), print URLs, logins and env lines; wait for a stop.

    Ctrl-C (SIGINT) or SIGTERM stops the apps and returns.
    """
    for name, port in (ports or {}).items():
        if port and _taken(host, port):
            # Checked first: the apps' readiness probe would otherwise be answered by whoever holds it.
            raise PortTaken(
                f"port {port} on {host} (for {name}) is in use, maybe by demo apps already running: "
                "stop them, or start with free ports (run.py demo-apps --free-ports)"
            )
    apps = start_demo_apps(host=host, ports=ports, data_dir=data_dir)
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, url in apps.urls.items():
            logins = ", ".join(f"{user} / {password}" for user, password in LOGINS[name].items())
            print(f"{name:12} {url:28} {logins}")
        print(
            "host         python -m demo.host --data-dir demo-data   (in an 80x24 terminal; ROBOT / term-pw-9)"
        )
        print("desktop      python -m demo.desktop_terminal --data-dir demo-data   (ROBOT / term-pw-9)")
        print("# for robots in another shell (workflows read these):")
        for name, url in apps.urls.items():
            print(f"export {ENV_NAMES[name]}={url}")
        print("Ctrl-C stops them.", flush=True)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        apps.stop()


def main() -> None:
    """Start the apps on their usual ports (8101-8104)."""
    serve(DEFAULT_PORTS)


if __name__ == "__main__":
    main()
