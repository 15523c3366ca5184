"""Starting the demo back-office's web apps on localhost (in threads), for tests, demo and bench."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from connectors.net import free_port
from demo import billing, crm, suppliers
from demo.common import DemoApp

DEFAULT_PORTS = {"crm": 8101, "billing": 8102, "nordlog": 8103, "suedexpress": 8104}
FACTORIES = {
    "crm": crm.create,
    "billing": billing.create,
    "nordlog": suppliers.create_nordlog,
    "suedexpress": suppliers.create_suedexpress,
}
ENV_NAMES = {
    "crm": "CRM_URL",
    "billing": "BILLING_URL",
    "nordlog": "NORDLOG_URL",
    "suedexpress": "SUEDEXPRESS_URL",
}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread keeps its own handlers
        pass


class DemoApps:
    """The running demo apps: URLs, failure switches, audit logs; a context manager."""

    def __init__(
        self, host: str = "127.0.0.1", ports: dict[str, int] | None = None, data_dir: Path | None = None
    ) -> None:
        self.host = host
        self.ports = dict(ports) if ports else {name: free_port(host) for name in FACTORIES}
        self.data_dir = data_dir
        self.apps: dict[str, DemoApp] = {}
        self._servers: list[tuple[_Server, threading.Thread]] = []

    @property
    def urls(self) -> dict[str, str]:
        """Name -> base URL."""
        return {name: f"http://{self.host}:{port}" for name, port in self.ports.items()}

    def env(self) -> dict[str, str]:
        """The environment variables the demo workflows read (CRM_URL...)."""
        return {ENV_NAMES[name]: url for name, url in self.urls.items()}

    def start(self, timeout: float = 15.0) -> DemoApps:
        """Start every app and wait until each answers."""
        for name, factory in FACTORIES.items():
            if name not in self.ports:
                continue
            demo_app = factory(self.data_dir)
            self.apps[name] = demo_app
            config = uvicorn.Config(
                demo_app.app,
                host=self.host,
                port=self.ports[name],
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
            server = _Server(config)
            thread = threading.Thread(target=server.run, name=f"demo-{name}", daemon=True)
            thread.start()
            self._servers.append((server, thread))
        deadline = time.monotonic() + timeout
        for name, url in self.urls.items():
            while True:
                try:
                    if httpx.get(f"{url}/_control", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"demo app {name} did not start on {url} (is the port {self.ports[name]} taken?)"
                    )
                time.sleep(0.05)
        return self

    def control(self, name: str, **settings: Any) -> dict[str, Any]:
        """Set failure switches of one app (slow_ms, error_rate, down, markup, session_ttl_s, no_slots)."""
        response = httpx.post(f"{self.urls[name]}/_control", json=settings, timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        """Every app back to its seed data and defaults."""
        for demo_app in self.apps.values():
            demo_app.reset()

    def audit(self, name: str) -> list[dict[str, Any]]:
        """The audit log of one app."""
        return list(self.apps[name].audit_log)

    def stop(self) -> None:
        """Stop every app."""
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(timeout=5)
        self._servers.clear()

    def __enter__(self) -> DemoApps:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_demo_apps(
    host: str = "127.0.0.1", ports: dict[str, int] | None = None, data_dir: Path | None = None
) -> DemoApps:
    """Start the demo web apps (free ports unless given); stop them with ``.stop()``."""
    return DemoApps(host, ports, data_dir).start()
