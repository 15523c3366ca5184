"""A refused login: the application's login page came back with an error message.

A wrong robot password used to surface ten seconds later as "nothing matches on …/login",
from whatever step of the login workflow waited for the logged-in page. Instead, while a
system's login workflow runs, a page that still asks for a password and shows an error
message (``role=alert``, Django's ``errornote``, the usual ``error`` / ``alert-danger``
classes) is a refused login, said at once and quoting the page: ``LoginRefused``.
"""

from __future__ import annotations

from typing import Any

from robots.errors import LoginRefused
from robots.masking import page_quote

_REFUSAL_SCRIPT = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const password = Array.from(document.querySelectorAll('input[type=password]')).some(visible);
  if (!password) return null;
  const selectors = ['[role=alert]', '.errornote', '.errorlist', '.alert-danger', '.alert-error',
    '.error-message', '.login-error', '.flash-error', '.message-error', '.error', '#error', '.alert'];
  for (const selector of selectors) {
    for (const e of document.querySelectorAll(selector)) {
      const text = (e.innerText || '').replace(/\\s+/g, ' ').trim();
      if (text && visible(e)) return text.slice(0, 300);
    }
  }
  return null;
}"""


def refusal_message(session: Any) -> str | None:
    """The page's error message when it is a login page that refused the robot, else None."""
    try:
        message = session.page.evaluate(_REFUSAL_SCRIPT)
    except Exception:
        return None
    return str(message) if message else None


def raise_if_refused(session: Any) -> None:
    """Raise ``LoginRefused`` when the page refused the login (see ``refusal_message``)."""
    message = refusal_message(session)
    if message is not None:
        raise LoginRefused(
            f"the login to {session.system} was refused: the page says {page_quote(message)} "
            f"({session.page.url}); check the robot's credentials{_entry(session)}"
        )


def _entry(session: Any) -> str:
    credentials = getattr(session.spec, "credentials", None)
    return f" (vault entry {credentials!r})" if credentials else ""
