"""Comparing what a client sent with a secret the server expects (signatures, CSRF tokens,
OAuth states) in constant time, whatever the client sent.

``hmac.compare_digest`` raises ``TypeError`` for a ``str`` with a non-ASCII character; a
cookie, header, form field or path holds whatever a client puts there, so texts are
compared as UTF-8 bytes (lone surrogates kept) and such a value simply does not match.
"""

from __future__ import annotations

import hmac


def texts_equal(sent: str, expected: str) -> bool:
    """Whether ``sent`` is ``expected``, in time that does not depend on where they differ."""
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
