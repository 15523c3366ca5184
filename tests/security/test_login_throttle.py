"""Login throttling: growing delays per user name and per client address, 429 + Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from orchestrator.control_room.throttle import LoginThrottle, ThrottleRule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_grow_after_the_free_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    delays = [throttle.failed("anna", "10.0.0.1", known_user=True) for _ in range(9)]
    assert delays == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert throttle.wait_seconds("ANNA", "10.0.0.9") == pytest.approx(8)  # the user name is locked
    clock.now += 8.5
    assert throttle.wait_seconds("anna", "10.0.0.9") == 0


def test_the_delay_is_capped() -> None:
    rule = ThrottleRule(free=0, base_seconds=1, max_seconds=900)
    assert rule.delay(100) == 900


def test_an_address_is_locked_whatever_user_names_it_tries() -> None:
    throttle = LoginThrottle(clock=Clock())
    for number in range(21):
        throttle.failed(f"user{number}", "10.0.0.66", known_user=False)
    assert throttle.wait_seconds("someone-new", "10.0.0.66") > 0
    assert throttle.wait_seconds("someone-new", "10.0.0.67") == 0


def test_a_success_clears_the_user_but_not_the_address() -> None:
    throttle = LoginThrottle(clock=Clock())
    for _ in range(6):
        throttle.failed("anna", "10.0.0.1", known_user=True)
    throttle.succeeded("anna")
    assert throttle.wait_seconds("anna", "10.0.0.2") == 0


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(clock=Clock(), max_keys=100)
    for number in range(1000):
        throttle.failed(f"user{number}", f"10.0.{number // 250}.{number % 250}", known_user=False)
    assert len(throttle._failures) <= 100


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def test_the_sixth_wrong_password_is_answered_429_with_retry_after(client: TestClient) -> None:
    client.app.state.login_throttle = LoginThrottle()  # type: ignore[attr-defined]
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="INFO")
    try:
        for _ in range(5):
            assert _login(client, "anna.agent", "wrong-password").status_code == 401
        locked = _login(client, "anna.agent", "wrong-password")
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1
        # While locked even the right password is not checked.
        assert _login(client, "anna.agent", "agent-demo-1").status_code == 429
    finally:
        logger.remove(sink)
    audit = [m for m in messages if "sign-in locked" in m]
    assert audit and "anna.agent" in audit[0]
    assert not any("wrong-password" in m for m in messages)


def test_a_right_password_before_the_lock_signs_in(client: TestClient) -> None:
    client.app.state.login_throttle = LoginThrottle()  # type: ignore[attr-defined]
    for _ in range(3):
        _login(client, "max.agent", "nope-nope")
    assert _login(client, "max.agent", "agent-demo-2").status_code == 303
