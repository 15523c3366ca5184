"""The live pages' fragment answer: only the regions a change touched, not the whole page.

``static/live.js`` asks for the page it shows again when the server says its data moved, and
names the regions it will swap in the ``X-Tandem-Live-Regions`` header (``inbox-rows
inbox-count``). The page is then rendered as usual (the same route, the same rights, the same
template, so a region never differs from the one a reload shows) and the answer holds only
those regions, each in a ``<template data-live-fragment>`` (a ``<tbody>`` or a ``<tr>`` stays
whole there, where an HTML parser would drop it from a ``<body>``). Without the header the
page comes whole, as before.

Finding a region is a scan, not an HTML parse: a template writes its markup itself and escapes
every value (``<`` in data is ``&lt;``), so each ``<tag`` or ``</tag`` in the output is markup,
and the region ends where the tags of its name balance out.
"""

from __future__ import annotations

import re

#: The header that asks for regions (names separated by spaces).
REGIONS_HEADER = "x-tandem-live-regions"
#: The tray's regions (``base.html``, ``notifications.html``): only they need the tray's data.
TRAY_REGIONS = frozenset({"tray-count", "tray-items", "tray-summary", "tray-page"})
_NAME = re.compile(r"[A-Za-z0-9_-]{1,60}")
_MAX_NAMES = 20


def requested_regions(header: str | None) -> frozenset[str]:
    """The region names of an ``X-Tandem-Live-Regions`` header (invalid ones left out)."""
    names = (header or "").split()[:_MAX_NAMES]
    return frozenset(name for name in names if _NAME.fullmatch(name))


def region_markup(page: str, name: str) -> str | None:
    """The element ``data-live="name"`` of a rendered ``page``, from its ``<`` to its end tag;
    None when the page has no such region."""
    marker = page.find(f'data-live="{name}"')
    if marker < 0:
        return None
    start = page.rfind("<", 0, marker)
    tag = re.match(r"<([a-zA-Z][a-zA-Z0-9]*)", page[start:])
    if tag is None:
        return None
    depth = 0
    for found in re.finditer(rf"<(/?){tag.group(1)}\b[^>]*>", page[start:], re.IGNORECASE):
        depth += -1 if found.group(1) else 1
        if depth == 0:
            return page[start : start + found.end()]
    return None


def fragment(page: str, names: frozenset[str]) -> str:
    """The answer for a fragment request: each region of ``names`` that ``page`` has."""
    regions = (region_markup(page, name) for name in sorted(names))
    body = "".join(f"<template data-live-fragment>{markup}</template>" for markup in regions if markup)
    return f'<!doctype html><meta charset="utf-8"><title>regions</title>{body}'
