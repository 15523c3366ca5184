"""The demo "green screen" host: a curses program that behaves like a 3270/5250 host application.

Run in a terminal (80x24): ``python -m demo.host --data-dir DIR``. Robots reach it through a
``terminal`` system (a pseudo-terminal with a terminal emulator in Tandem); people in xterm.

Like a real host it has:

- screens with an id in the top left corner: ``KSS000`` sign-on, ``KSM001`` menu,
  ``KSM010`` customer number, ``KSM020`` address; a status line on row 23 (0-based 22)
  and the keyboard indicator ``X SYSTEM`` at its right end while the input is locked;
- **input locks:** after Enter, F3 and F5 the host "works" for a random 0.2-0.6 s
  (``--lock-min-ms``/``--lock-max-ms``); keys typed meanwhile are thrown away;
- **fixed-length fields with auto-skip:** a field takes at most its length; typing its last
  character jumps to the next field; Tab / Backtab move between fields; Backspace and
  Delete edit; typing over a field overwrites it from the cursor;
- Enter submits, **F5 saves** (address screen), **F3 goes back**, and the sign-on expires
  after ``--idle-seconds`` without a key (then ``SESSION EXPIRED - PLEASE SIGN ON``).

Saves are written to ``DIR/host-customers.json`` and audited in ``DIR/host.jsonl`` (one line
per save: what changed from what to what), so tests can count saves and check values.

Failure switches, like the web apps' ``/_control``: ``DIR/host-control.json`` with
``{"down": true}`` (customer lookups and saves are refused: ``KSE099 SYSTEM NOT AVAILABLE``)
or ``{"slow_ms": 1500}`` (a save takes that long, the input locked meanwhile), read at
every command.
"""

from __future__ import annotations

import argparse
import curses
import fcntl
import json
import locale
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo import data

STATUS_ROW, INDICATOR = 22, "X SYSTEM"
NOT_AVAILABLE = "KSE099 SYSTEM NOT AVAILABLE - TRY AGAIN LATER"


@dataclass
class Field:
    """An input field: where it is, how long, what it holds."""

    name: str
    row: int
    col: int
    length: int
    value: str = ""
    hidden: bool = False
    numeric: bool = False


class Host:
    """Screens, fields and commands of the host application."""

    def __init__(self, window: Any, args: argparse.Namespace) -> None:
        self.window = window
        self.args = args
        self.data_dir: Path = args.data_dir
        self.store = self.data_dir / "host-customers.json"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "host.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # robots start their hosts at the same moment
            if not self.store.exists():
                temporary = self.store.with_suffix(".tmp")
                temporary.write_text(
                    json.dumps(data.customers(), ensure_ascii=False, indent=1), encoding="utf-8"
                )
                temporary.replace(self.store)
        self.user: str | None = None
        self.screen = "KSS000"
        self.fields: list[Field] = []
        self.current = 0
        self.cursor = 0
        self.labels: list[tuple[int, int, str]] = []
        self.status = ""
        self.customer: str | None = None
        self.last_key = time.monotonic()
        self.random = random.Random(args.seed)
        self.sign_on("PLEASE SIGN ON")

    # -- screens ---------------------------------------------------------------------------

    def show(self, screen: str, title: str, labels: list[tuple[int, int, str]], fields: list[Field]) -> None:
        self.screen, self.fields, self.current, self.cursor = screen, fields, 0, 0
        self.labels = [(0, 0, f"{screen}  {title}"), (0, 62, "TANDEM DEMO HOST"), *labels]

    def sign_on(self, status: str) -> None:
        self.user = None
        self.show(
            "KSS000",
            "SIGN ON",
            [(4, 2, "USER . . . . :"), (5, 2, "PASSWORD . . :")],
            [Field("user", 4, 17, 8), Field("password", 5, 17, 10, hidden=True)],
        )
        self.status = status

    def menu(self, status: str = "SELECT AN OPTION AND PRESS ENTER") -> None:
        self.customer = None
        self.show(
            "KSM001",
            "MAIN MENU",
            [(4, 4, "1  CUSTOMER ADDRESS"), (5, 4, "9  SIGN OFF"), (8, 2, "OPTION . . :")],
            [Field("option", 8, 15, 1, numeric=True)],
        )
        self.status = status

    def lookup(self, status: str = "ENTER CUSTOMER NUMBER   F3=BACK") -> None:
        self.customer = None
        self.show("KSM010", "CUSTOMER", [(4, 2, "CUSTOMER NO. :")], [Field("customer", 4, 17, 7)])
        self.status = status

    def address(self, customer_id: str, status: str) -> None:
        customer = self.customers()[customer_id]
        self.customer = customer_id
        self.show(
            "KSM020",
            "CUSTOMER ADDRESS",
            [
                (2, 2, f"CUSTOMER NO. : {customer_id}"),
                (3, 2, f"NAME . . . . : {customer['name'].upper()}"),
                (5, 2, "STREET . . . :"),
                (6, 2, "POSTAL CODE  :"),
                (7, 2, "CITY . . . . :"),
                (20, 2, "F3=BACK  F5=SAVE  TAB=NEXT FIELD"),
            ],
            [
                Field("street", 5, 17, 30, customer["street"]),
                Field("postal_code", 6, 17, 5, customer["postal_code"], numeric=True),
                Field("city", 7, 17, 25, customer["city"]),
            ],
        )
        self.status = status

    # -- data ------------------------------------------------------------------------------

    def customers(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.store.read_text(encoding="utf-8"))
        return loaded

    def switches(self) -> dict[str, Any]:
        """The failure switches in ``host-control.json`` (none when it is missing or broken)."""
        try:
            loaded = json.loads((self.data_dir / "host-control.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def save(self) -> None:
        assert self.customer is not None
        values = {f.name: f.value.strip() for f in self.fields}
        if len(values["postal_code"]) != 5 or not values["postal_code"].isdigit():
            self.status = "KSE021 POSTAL CODE MUST HAVE 5 DIGITS"
            return
        if not values["street"] or not values["city"]:
            self.status = "KSE022 STREET AND CITY REQUIRED"
            return
        switches = self.switches()
        if switches.get("down"):
            self.status = NOT_AVAILABLE
            return
        slow_ms = float(switches.get("slow_ms") or 0)
        if slow_ms > 0:  # the host works on the save, the keyboard locked, before it is stored
            self.draw(True)
            time.sleep(slow_ms / 1000)
        with (self.data_dir / "host.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # several hosts (robots) share one data file
            customers = self.customers()
            customer = customers[self.customer]
            before = {name: customer[name] for name in values}
            customer.update(values)
            temporary = self.store.with_suffix(".tmp")
            temporary.write_text(json.dumps(customers, ensure_ascii=False, indent=1), encoding="utf-8")
            temporary.replace(self.store)
            self.audit("address_changed", self.customer, before, values)
        self.address(self.customer, f"KSI020 CUSTOMER {self.customer} SAVED")

    def audit(self, action: str, entity: str, before: Any = None, after: Any = None) -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "app": "host",
            "login": self.user,
            "action": action,
            "entity": entity,
            "before": before,
            "after": after,
        }
        with (self.data_dir / "host.jsonl").open("a", encoding="utf-8") as audit:
            audit.write(json.dumps(entry, ensure_ascii=False) + "\n")

    # -- commands --------------------------------------------------------------------------

    def enter(self) -> None:
        values = {f.name: f.value.strip() for f in self.fields}
        if self.screen == "KSS000":
            if data.LOGINS["terminal"].get(values["user"].upper()) == values["password"]:
                self.user = values["user"].upper()
                self.audit("login", self.user)
                self.menu()
            else:
                self.sign_on("KSE001 INVALID USER OR PASSWORD")
        elif self.screen == "KSM001":
            if values["option"] == "1":
                self.lookup()
            elif values["option"] == "9":
                self.sign_on("SIGNED OFF - PLEASE SIGN ON")
            else:
                self.menu(f"KSE002 OPTION {values['option'] or '?'} NOT VALID")
        elif self.screen == "KSM010":
            number = values["customer"].upper()
            if self.switches().get("down"):
                self.lookup(NOT_AVAILABLE)
            elif number in self.customers():
                self.address(number, "CHANGE THE ADDRESS AND PRESS F5")
            else:
                self.lookup(f"KSE011 CUSTOMER {number or '?'} NOT FOUND")

    def back(self) -> None:
        if self.screen == "KSM020":
            self.lookup()
        elif self.screen == "KSM010":
            self.menu()

    def type_character(self, character: str) -> None:
        field = self.fields[self.current]
        if field.numeric and not character.isdigit():
            self.status = "KSE900 NUMERIC FIELD"
            return
        text = field.value.ljust(field.length)
        field.value = (text[: self.cursor] + character + text[self.cursor + 1 :]).rstrip()
        self.cursor += 1
        if self.cursor >= field.length:  # auto-skip: the full field hands over to the next one
            self.next_field(1)

    def next_field(self, step: int) -> None:
        self.current = (self.current + step) % len(self.fields)
        self.cursor = 0

    def handle(self, key: Any) -> bool:
        """Act on one key; True when the host is now busy (the input locks)."""
        if key in ("\n", "\r", curses.KEY_ENTER):
            self.enter()
            return True
        if key == curses.KEY_F3:
            self.back()
            return True
        if key == curses.KEY_F5 and self.screen == "KSM020":
            self.save()
            return True
        if key == "\t":
            self.next_field(1)
        elif key == curses.KEY_BTAB:
            self.next_field(-1)
        elif key in (curses.KEY_BACKSPACE, "\x7f", "\b"):
            if self.cursor > 0:
                self.cursor -= 1
                self.delete()
        elif key == curses.KEY_DC:
            self.delete()
        elif key == curses.KEY_LEFT:
            self.cursor = max(0, self.cursor - 1)
        elif key == curses.KEY_RIGHT:
            self.cursor = min(self.fields[self.current].length - 1, self.cursor + 1)
        elif isinstance(key, str) and key.isprintable():
            self.type_character(key)
        return False

    def delete(self) -> None:
        field = self.fields[self.current]
        field.value = (field.value[: self.cursor] + field.value[self.cursor + 1 :]).rstrip()

    # -- drawing and the loop --------------------------------------------------------------

    def draw(self, locked: bool) -> None:
        window = self.window
        window.erase()
        for row, col, text in self.labels:
            window.addstr(row, col, text)
        for field in self.fields:
            shown = "*" * len(field.value) if field.hidden else field.value
            window.addstr(field.row, field.col, shown.ljust(field.length, "_"), curses.A_UNDERLINE)
        window.addstr(STATUS_ROW, 0, self.status[:70])
        if locked:
            window.addstr(STATUS_ROW + 1, 70, INDICATOR)
        field = self.fields[self.current]
        window.move(field.row, field.col + min(self.cursor, field.length - 1))
        window.refresh()

    def run(self) -> None:
        window = self.window
        window.keypad(True)
        window.timeout(100)
        self.draw(False)
        while True:
            try:
                key = window.get_wch()
            except curses.error:
                key = None
            if key is None:
                idle = self.args.idle_seconds
                if idle and self.user and time.monotonic() - self.last_key > idle:
                    self.sign_on("SESSION EXPIRED - PLEASE SIGN ON")
                    self.draw(False)
                continue
            self.last_key = time.monotonic()
            if self.handle(key):
                self.draw(True)
                lock_ms = self.random.uniform(self.args.lock_min_ms, self.args.lock_max_ms)
                time.sleep(lock_ms / 1000)
                curses.flushinp()  # what was typed during the lock is lost, as on a real host
            self.draw(False)


def main(argv: list[str] | None = None) -> None:
    """Run the host in the current terminal."""
    parser = argparse.ArgumentParser(description="The demo back-office's green-screen host.")
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="data and audit log")
    parser.add_argument("--lock-min-ms", type=float, default=200, help="shortest input lock")
    parser.add_argument("--lock-max-ms", type=float, default=600, help="longest input lock")
    parser.add_argument("--idle-seconds", type=float, default=60, help="sign-on expires (0 = never)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the input lock lengths")
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    locale.setlocale(locale.LC_ALL, "")
    curses.wrapper(lambda window: Host(window, args).run())


if __name__ == "__main__":
    main()
