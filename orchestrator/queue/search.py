"""Finding cases: by reference, by any payload field, by date range, state, workflow and
channel, a page at a time with the total; and the bulk retry / cancel that acts on what was found.

One ``CaseQuery`` serves the ops dashboard's search, its paging and its bulk actions, so the
cases a bulk action touches are exactly the ones the search showed (and only those the user
may see: ``TaskStore.case_scope``).

Payload values: with a field name (``customer_id``) the field's value must equal the text;
without one, any field's value (at the top level of the payload) must equal it, case
insensitive. Personal data purged by retention is no longer found.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestrator.errors import InvalidTransition, NotFound, PermissionDenied
from orchestrator.models import Case
from orchestrator.queue.cases import CaseStore
from orchestrator.storage.tables import CaseRow

#: Most cases one bulk action may touch (a larger selection is refused: narrow the search).
BULK_LIMIT = 1000


@dataclass(frozen=True)
class CaseQuery:
    """What to look for; every empty filter matches everything."""

    reference: str = ""
    """The reference contains this text (``ivr:CALL-2026``, ``nightly@2026-11-23``)."""
    field: str = ""
    """A payload field's name (``customer_id``); empty: any field."""
    value: str = ""
    """The payload value to find (``C000001``, ``O-100001``)."""
    created_from: datetime | None = None
    """Created at or after."""
    created_to: datetime | None = None
    """Created before."""
    state: str = ""
    workflow: str = ""
    channel: str = ""

    def is_empty(self) -> bool:
        """True when nothing narrows the search."""
        return not any(getattr(self, f.name) for f in fields(self))


def _payload_condition(field: str, value: str) -> sa.ColumnElement[bool]:
    if field:
        return CaseRow.payload[field].as_string() == value
    # The JSON text holds each string value as a JSON string: look for it, quotes included, so
    # "C000001" does not find "C0000010". The text is written by json.dumps (ASCII escapes), so
    # the needle is made the same way.
    needle = json.dumps(value)[1:-1]
    pattern = '%"' + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    return sa.func.lower(sa.cast(CaseRow.payload, sa.Text)).like(pattern.lower(), escape="\\")


class CaseSearchStore(CaseStore):
    """Case search and bulk actions over the case store."""

    def _search_query(self, query: CaseQuery) -> sa.Select[Any]:
        select = sa.select(CaseRow)
        if query.reference:
            select = select.where(CaseRow.reference.contains(query.reference, autoescape=True))
        if query.value:
            select = select.where(_payload_condition(query.field.strip(), query.value.strip()))
        if query.created_from is not None:
            select = select.where(CaseRow.created_at >= query.created_from)
        if query.created_to is not None:
            select = select.where(CaseRow.created_at < query.created_to)
        if query.state:
            select = select.where(CaseRow.status == query.state)
        if query.workflow:
            select = select.where(CaseRow.workflow == query.workflow)
        if query.channel:
            select = select.where(CaseRow.channel == query.channel)
        return select

    def search_cases(
        self, query: CaseQuery, *, visible_to: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Case], int]:
        """One page of the matching cases (newest first) and how many match in all; with
        ``visible_to``, only that user's cases."""
        select = self._search_query(query)
        with self._tx() as session:
            select = self._scoped(session, select, visible_to)
            total = session.scalar(sa.select(sa.func.count()).select_from(select.subquery())) or 0
            rows = session.scalars(
                select.order_by(CaseRow.created_at.desc(), CaseRow.id).limit(limit).offset(offset)
            )
            return [Case.model_validate(r) for r in rows], int(total)

    def case_channels(self) -> list[str]:
        """Every channel cases came from (for a filter's choices)."""
        with self._tx() as session:
            found = session.scalars(sa.select(CaseRow.channel).where(CaseRow.channel.is_not(None)).distinct())
            return sorted(str(c) for c in found)

    def bulk_case_action(
        self,
        action: str,
        case_ids: Sequence[str],
        *,
        actor: str,
        reason: str = "",
    ) -> tuple[list[Case], list[tuple[str, str]]]:
        """Retry or cancel each case of ``case_ids`` that ``actor`` may see; ``(done, skipped)``
        with a reason for every skipped id (not theirs, unknown, or in a state that does not
        allow it). Each case changes in its own transaction with its audit trail, as by hand."""
        if action not in ("retry", "cancel"):
            raise ValueError(f"cases can be retried or cancelled in bulk, not {action!r}")
        wanted = list(dict.fromkeys(case_ids))
        if len(wanted) > BULK_LIMIT:
            raise ValueError(f"{len(wanted)} cases: at most {BULK_LIMIT} at once; narrow the search")
        visible = self.visible_case_ids(actor, wanted)
        done: list[Case] = []
        skipped: list[tuple[str, str]] = []
        why = reason.strip() or f"{'retried' if action == 'retry' else 'cancelled'} in bulk"
        for case_id in wanted:
            if case_id not in visible:
                skipped.append((case_id, "not found among your cases"))
                continue
            try:
                if action == "retry":
                    done.append(self.retry_case(case_id, actor=actor, reason=why))
                else:
                    done.append(self.cancel_case(case_id, actor=actor, reason=why))
            except (InvalidTransition, NotFound, PermissionDenied) as error:
                skipped.append((case_id, str(error)))
        return done, skipped
