"""TN3270 systems: how they are declared, and what s3270 is sent for texts and keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from robots.drivers.tn3270_session import KEYS, quoted
from robots.language.model import SystemSpec


def test_a_tn3270_host_is_a_terminal_system_without_a_program() -> None:
    spec = SystemSpec(kind="terminal", tn3270="mainframe.example:23", code_page="1141")
    assert spec.tn3270 == "mainframe.example:23"
    with pytest.raises(ValidationError, match="tn3270 is for terminal systems"):
        SystemSpec(kind="desktop", tn3270="mainframe.example:23")
    with pytest.raises(ValidationError, match="a program or a tn3270 host, not both"):
        SystemSpec(kind="terminal", tn3270="mainframe.example:23", program="ssh host")


def test_texts_are_quoted_and_keys_named_as_s3270_wants_them() -> None:
    assert quoted('Say "hi" \\o/') == '"Say \\"hi\\" \\\\o/"'
    assert KEYS["enter"] == "Enter"
    assert KEYS["f5"] == KEYS["pf5"] == "PF(5)"
    assert KEYS["shift+f3"] == KEYS["pf15"] == "PF(15)"
    assert KEYS["pa1"] == "PA(1)"
    assert KEYS["backtab"] == "BackTab"
