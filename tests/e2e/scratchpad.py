"""A tiny Tk program for the desktop action tests; it writes what happens to it into a log.

``python tests/e2e/scratchpad.py LOG TARGET.png DONE.png [TITLE]``: a 640x480 window at the
top left with a text field at (20..420, 20..50), the TARGET image at (500, 300) and, once
the target is clicked, the DONE image at (100, 300) a moment later. Ctrl+S logs the field's
text and puts it on the clipboard; closing the window (WM_DELETE_WINDOW) logs ``closed``.
"""

from __future__ import annotations

import sys
import tkinter as tk


def main() -> None:
    """Show the window until it is closed."""
    log_path, target_png, done_png = sys.argv[1:4]
    title = sys.argv[4] if len(sys.argv) > 4 else "Scratch Pad"

    def log(line: str) -> None:
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    root = tk.Tk()
    root.title(title)
    root.geometry("640x480+0+0")
    root.configure(background="white")
    entry = tk.Entry(root, font=("DejaVu Sans Mono", 14))
    entry.insert(0, "old text")
    entry.place(x=20, y=20, width=400, height=30)
    target_image = tk.PhotoImage(file=target_png)
    done_image = tk.PhotoImage(file=done_png)
    target = tk.Label(root, image=target_image, borderwidth=0, highlightthickness=0)
    target.place(x=500, y=300)
    done = tk.Label(root, image=done_image, borderwidth=0, highlightthickness=0)

    def clicked_target(event: tk.Event) -> None:  # type: ignore[type-arg]
        log("target")
        root.after(400, lambda: done.place(x=100, y=300))  # appears late: robots must wait for it

    def save(event: tk.Event) -> None:  # type: ignore[type-arg]
        log("saved " + entry.get())
        root.clipboard_clear()
        root.clipboard_append(entry.get())

    def closing() -> None:
        log("closed")
        root.destroy()

    target.bind("<Button-1>", clicked_target)
    root.bind("<Control-s>", save)
    root.bind("<Escape>", lambda event: log("escape"))
    root.protocol("WM_DELETE_WINDOW", closing)
    log("started")
    entry.focus_force()
    root.mainloop()


if __name__ == "__main__":
    main()
