"""The demo back-office as a test and a user meet it: run.py demo-apps, failure switches, audit logs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from demo.__main__ import PortTaken, serve
from demo.server import DemoApps
from tests.conftest import ROOT
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e


def test_demo_apps_command_serves_the_apps_until_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "demo-apps", "--free-ports", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops them."):
                break
        urls = dict(
            line.removeprefix("export ").split("=", 1) for line in printed if line.startswith("export ")
        )
        assert sorted(urls) == ["BILLING_URL", "CRM_URL", "NORDLOG_URL", "SUEDEXPRESS_URL"], printed
        assert any(line.startswith("crm") and "robot.crm / crm-secret-1" in line for line in printed)
        crm = urls["CRM_URL"]
        assert "Sign in" in httpx.get(f"{crm}/login").text
        signed_in = httpx.post(f"{crm}/login", data={"user": "robot.crm", "password": "crm-secret-1"})
        assert signed_in.status_code == 303
        assert '"login": "robot.crm"' in (tmp_path / "crm.jsonl").read_text()  # the audit log on disk
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0, process.stderr.read() if process.stderr else ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{crm}/login", timeout=2)


def test_a_port_in_use_is_refused_with_what_to_do() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortTaken) as taken:
            serve({"crm": port})
    assert f"port {port} on 127.0.0.1 (for crm) is in use" in str(taken.value)
    assert "run.py demo-apps --free-ports" in str(taken.value)


def test_failure_switches_errors_down_unknown_and_reset(demo: DemoApps) -> None:
    crm = demo.urls["crm"]
    demo.control("crm", error_rate=0.5)
    answers = [httpx.get(f"{crm}/login") for _ in range(10)]
    failed = [a for a in answers if a.status_code == 500]
    assert len(failed) == 5 and all("ORA-03113" in a.text for a in failed)  # every second request
    demo.control("crm", error_rate=0, down=True)
    down = httpx.get(f"{crm}/login")
    assert down.status_code == 503 and "down for maintenance" in down.text
    unknown = httpx.post(f"{crm}/_control", json={"slowness": 5})
    assert unknown.status_code == 422
    assert unknown.json()["error"] == "unknown settings ['slowness']" and "slow_ms" in unknown.json()["known"]
    demo.control("crm", markup="v2", slow_ms=200)
    demo.reset()
    assert httpx.get(f"{crm}/_control").json() == {
        "slow_ms": 0,
        "error_rate": 0.0,
        "down": False,
        "markup": "v1",
        "session_ttl_s": 3600,
    }
    assert httpx.get(f"{crm}/login").status_code == 200


def test_a_slow_app_is_waited_for_and_its_audit_log_says_who_changed_what(
    robot: Robot, demo: DemoApps
) -> None:
    demo.control("crm", slow_ms=1500)  # the save spinner turns for almost two seconds
    demo.control("billing", slow_ms=1500)
    record = robot.run(
        "address_change",
        {"customer_id": "C000007", "street": "Altmarkt 1", "postal_code": "01067", "city": "Dresden"},
    )
    assert record.status == "done", record.error
    for app, login in (("crm", "robot.crm"), ("billing", "RBT01")):
        (change,) = [e for e in demo.audit(app) if e["action"] == "address_changed"]
        assert change["login"] == login and change["entity"] == "C000007"
        assert change["before"] == {"street": "Prager Straße 2", "postal_code": "01067", "city": "Dresden"}
        assert change["after"] == {"street": "Altmarkt 1", "postal_code": "01067", "city": "Dresden"}
        assert change["at"]
