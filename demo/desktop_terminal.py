"""The demo desktop program: a green-screen "Customer Terminal" (Tk) that holds addresses too.

Run: ``python -m demo.desktop_terminal --data-dir DIR``. Keyboard only, like a 3270 host screen:

- Login screen: USER, PASSWORD, Enter.
- Lookup screen: CUSTOMER NO, Enter -> the customer's STREET, POSTAL CODE, CITY fields.
- F2 saves (status line "SAVED"), F3 back to the lookup, F5 copies the phone number and
  F6 the address (``street|postal code|city``) to the clipboard.

The window is 800x600 at the top left corner, and fields sit at fixed positions, so robots
can click coordinates: CUSTOMER NO at (300, 150), STREET (300, 230), POSTAL CODE
(300, 270), CITY (300, 310), the status line at y=560. A field that gains focus has its
text selected, so typing replaces it. Changes are written to ``DIR/terminal-customers.json``
and audited in ``DIR/terminal.jsonl``. F6 copies the address the host holds (what was saved),
and copies nothing (an empty clipboard) when no customer is shown.

Failure switches, like the web apps' ``/_control``: ``DIR/terminal-control.json`` with
``{"down": true}`` (the host refuses lookups and saves) or ``{"slow_ms": 1500}`` (a save
takes that long), read at every command.
"""

from __future__ import annotations

import argparse
import fcntl
import itertools
import json
import re
import tkinter as tk
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo import data

TITLE = "Customer Terminal"
BACKGROUND, FOREGROUND, FONT = "#000000", "#33ff33", ("DejaVu Sans Mono", 14)
POSITIONS = {
    "user": (300, 150),
    "password": (300, 190),
    "customer": (300, 150),
    "street": (300, 230),
    "postal_code": (300, 270),
    "city": (300, 310),
}


class Terminal:
    """The program's state and screens."""

    def __init__(self, root: tk.Tk, data_dir: Path) -> None:
        self.root = root
        self.data_dir = data_dir
        self.store = data_dir / "terminal-customers.json"
        self.audit_file = data_dir / "terminal.jsonl"
        if not self.store.exists():
            self.store.write_text(
                json.dumps(data.customers(), ensure_ascii=False, indent=1), encoding="utf-8"
            )
        self.customers: dict[str, Any] = json.loads(self.store.read_text(encoding="utf-8"))
        self.login: str | None = None
        self.current: str | None = None
        self.widgets: list[tk.Widget] = []
        self.entries: dict[str, tk.Entry] = {}
        self.status = tk.StringVar(value="")
        root.title(TITLE)
        root.geometry("800x600+0+0")
        root.resizable(False, False)
        root.configure(background=BACKGROUND)
        tk.Label(root, textvariable=self.status, bg=BACKGROUND, fg=FOREGROUND, font=FONT, anchor="w").place(
            x=20, y=545, width=760, height=30
        )
        tk.Label(
            root,
            text="TANDEM DEMO HOST  *  CUSTOMER TERMINAL  *  V2.7",
            bg=BACKGROUND,
            fg=FOREGROUND,
            font=FONT,
        ).place(x=20, y=20)
        root.bind("<F2>", lambda event: self.save())
        root.bind("<F3>", lambda event: self.lookup_screen())
        root.bind("<F5>", lambda event: self.copy("phone"))
        root.bind("<F6>", lambda event: self.copy("address"))
        self.login_screen()

    # -- screens ------------------------------------------------------------------------------

    def clear(self) -> None:
        for widget in self.widgets:
            widget.destroy()
        self.widgets, self.entries = [], {}

    def label(self, text: str, x: int, y: int) -> None:
        widget = tk.Label(self.root, text=text, bg=BACKGROUND, fg=FOREGROUND, font=FONT, anchor="w")
        widget.place(x=x, y=y, width=260, height=28)
        self.widgets.append(widget)

    def entry(self, name: str, value: str = "", *, secret: bool = False) -> tk.Entry:
        x, y = POSITIONS[name]
        widget = tk.Entry(
            self.root,
            bg="#002200",
            fg=FOREGROUND,
            insertbackground=FOREGROUND,
            font=FONT,
            relief="flat",
            show="*" if secret else "",
            selectbackground=FOREGROUND,
            selectforeground=BACKGROUND,
        )
        widget.insert(0, value)
        widget.place(x=x - 100, y=y - 14, width=420, height=28)
        widget.bind("<FocusIn>", lambda event: widget.select_range(0, "end"))
        self.widgets.append(widget)
        self.entries[name] = widget
        return widget

    def login_screen(self) -> None:
        self.clear()
        self.label("USER", 40, POSITIONS["user"][1] - 14)
        self.label("PASSWORD", 40, POSITIONS["password"][1] - 14)
        user = self.entry("user")
        password = self.entry("password", secret=True)
        user.bind("<Return>", lambda event: password.focus_set())
        password.bind("<Return>", lambda event: self.sign_in())
        self.status.set("PLEASE SIGN ON")
        user.focus_force()

    def sign_in(self) -> None:
        user, password = self.entries["user"].get().strip(), self.entries["password"].get()
        if data.LOGINS["terminal"].get(user) != password:
            self.status.set("INVALID USER OR PASSWORD")
            self.entries["password"].delete(0, "end")
            return
        self.login = user
        self.audit("login", user)
        self.lookup_screen()

    def lookup_screen(self) -> None:
        if self.login is None:
            return
        self.clear()
        self.current = None
        self.label("CUSTOMER NO", 40, POSITIONS["customer"][1] - 14)
        number = self.entry("customer")
        number.bind("<Return>", lambda event: self.show(number.get().strip().upper()))
        self.status.set("ENTER CUSTOMER NUMBER")
        number.focus_force()

    def _reload(self) -> None:
        # Several robots each run their own terminal on one data file: read what the others
        # saved, or a case retried on another robot would see (and write) stale data.
        self.customers = json.loads(self.store.read_text(encoding="utf-8"))

    def switches(self) -> dict[str, Any]:
        """The failure switches in ``terminal-control.json`` (none when it is missing or broken)."""
        try:
            loaded = json.loads((self.data_dir / "terminal-control.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def show(self, customer_id: str) -> None:
        if self.switches().get("down"):
            self.status.set("ERROR: HOST NOT AVAILABLE - TRY AGAIN LATER")
            return
        self._reload()
        customer = self.customers.get(customer_id)
        if customer is None:
            self.status.set(f"CUSTOMER {customer_id} NOT FOUND")
            return
        self.current = customer_id
        self.label("NAME", 40, 176)
        name = tk.Label(
            self.root, text=customer["name"].upper(), bg=BACKGROUND, fg=FOREGROUND, font=FONT, anchor="w"
        )
        name.place(x=200, y=176, width=420, height=28)
        self.widgets.append(name)
        for field, caption in (("street", "STREET"), ("postal_code", "POSTAL CODE"), ("city", "CITY")):
            self.label(caption, 40, POSITIONS[field][1] - 14)
            self.entry(field, customer[field])
        fields = [self.entries[f] for f in ("street", "postal_code", "city")]
        for here, following in itertools.pairwise(fields):
            here.bind("<Return>", self._focus_to(following))
        self.status.set(f"CUSTOMER {customer_id}  F2=SAVE F3=BACK F5=COPY PHONE F6=COPY ADDRESS")
        self.entries["street"].focus_force()

    @staticmethod
    def _focus_to(widget: tk.Entry) -> Any:
        return lambda event: widget.focus_set()

    # -- commands -----------------------------------------------------------------------------

    def save(self) -> None:
        if self.current is None:
            return
        values = {f: self.entries[f].get().strip() for f in ("street", "postal_code", "city")}
        if not re.fullmatch(r"[0-9]{5}", values["postal_code"]):
            self.status.set("ERROR: POSTAL CODE MUST HAVE 5 DIGITS")
            return
        if not values["street"] or not values["city"]:
            self.status.set("ERROR: STREET AND CITY REQUIRED")
            return
        switches = self.switches()
        if switches.get("down"):
            self.status.set("ERROR: HOST NOT AVAILABLE - TRY AGAIN LATER")
            return
        slow_ms = int(switches.get("slow_ms") or 0)
        if slow_ms > 0:
            self.status.set("SAVING...")
            customer_id = self.current
            self.root.after(slow_ms, lambda: self._store(customer_id, values))
        else:
            self._store(self.current, values)

    def _store(self, customer_id: str, values: dict[str, str]) -> None:
        with (self.data_dir / "terminal.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one terminal at a time reads, changes, writes
            self._reload()
            customer = self.customers[customer_id]
            before = {f: customer[f] for f in values}
            customer.update(values)
            temporary = self.store.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.customers, ensure_ascii=False, indent=1), encoding="utf-8")
            temporary.replace(self.store)
            self.audit("address_changed", customer_id, before, values)
        self.status.set("SAVED")

    def copy(self, what: str) -> None:
        if self.current is None:
            # An empty clipboard, not the last customer's data: a robot reading it then sees
            # that the screen shows nobody, instead of taking stale data for this case's.
            self.root.clipboard_clear()
            self.root.clipboard_append("")
            return
        customer = self.customers[self.current]
        text = (
            customer["phone"]
            if what == "phone"
            else "|".join(customer[f] for f in ("street", "postal_code", "city"))
        )
        self.root.clipboard_clear()
        self.root.clipboard_append(text)
        self.status.set(f"COPIED {what.upper()}")

    def audit(self, action: str, entity: str, before: Any = None, after: Any = None) -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "app": "terminal",
            "login": self.login,
            "action": action,
            "entity": entity,
            "before": before,
            "after": after,
        }
        with self.audit_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Start the terminal program."""
    parser = argparse.ArgumentParser(description="The demo back-office's desktop program.")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("demo-data"), help="where data and audit log live"
    )
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    root = tk.Tk()
    Terminal(root, args.data_dir)
    root.mainloop()


if __name__ == "__main__":
    main()
