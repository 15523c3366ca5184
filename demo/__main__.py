"""``python -m demo``: the demo web apps on their usual ports until Ctrl-C."""

from __future__ import annotations

import time

from demo.data import LOGINS
from demo.server import DEFAULT_PORTS, start_demo_apps


def main() -> None:
    """Start the apps, print URLs and logins, wait for Ctrl-C."""
    apps = start_demo_apps(ports=DEFAULT_PORTS)
    try:
        for name, url in apps.urls.items():
            logins = ", ".join(f"{user} / {password}" for user, password in LOGINS[name].items())
            print(f"{name:12} {url:28} {logins}")
        print("desktop: python -m demo.terminal --data-dir demo-data   (ROBOT / term-pw-9)")
        print("Ctrl-C stops them.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        apps.stop()


if __name__ == "__main__":
    main()
