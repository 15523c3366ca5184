"""Administration: users, units, queues and channel tokens changed by a person, each change
recorded in the admin audit log together with what the control room changes elsewhere
(vault entries, schedules).

The store checks who may do it, so every caller (the admin screens, a script) gets the same
rule: the actor must be an active ``admin`` (``record_admin_action`` takes other roles where
the caller allows them, e.g. ops for schedules), and an admin manages only the users, units and
queues of their own unit and the units below it. An admin cannot lock themselves out
(deactivate themselves or give up their own admin role). Each change and its audit line are
written in one transaction; the audit line never holds a password, a token or a vault value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from orchestrator.errors import NotFound, PermissionDenied
from orchestrator.humans.people import _HASHER, PeopleStore, _token_hash
from orchestrator.models import ROLES, ApiToken, OrgUnit, Queue, User
from orchestrator.storage.base import new_id
from orchestrator.storage.tables import AdminEventRow, ApiTokenRow, OrgUnitRow, QueueRow, UserRow

ADMINS: tuple[str, ...] = ("admin",)
_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,99}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
MIN_PASSWORD = 8
#: The longest service level a queue may have: a year. More is no service level, and a due
#: time of "now + minutes" must stay a date every database and ``datetime`` hold.
MAX_SLA_MINUTES = 365 * 24 * 60


class AdminEvent(BaseModel):
    """One line of the admin audit log."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class AdminStore(PeopleStore):
    """Changes made from the admin screens, each with its audit line."""

    # -- who may ---------------------------------------------------------------------------

    def _actor(self, session: Session, actor: str, roles: Sequence[str] = ADMINS) -> tuple[UserRow, set[str]]:
        """The acting user and the units they manage; PermissionDenied for another role."""
        row = session.get(UserRow, actor)
        if row is None or not row.active:
            raise PermissionDenied(f"unknown or inactive user {actor!r}")
        if row.role not in roles:
            raise PermissionDenied(f"{actor} is {row.role}: only {' or '.join(roles)} may do this")
        return row, self._subtree(session, row.unit_id)

    def _record(self, session: Session, actor: str, action: str, target: str, detail: str = "") -> None:
        session.add(AdminEventRow(at=self.now(), actor=actor, action=action, target=target, detail=detail))

    def record_admin_action(
        self, actor: str, action: str, target: str, detail: str = "", *, roles: Sequence[str] = ADMINS
    ) -> None:
        """Write an audit line for a change made outside this store (a vault entry, a schedule);
        PermissionDenied when ``actor`` has none of ``roles`` (so nothing is recorded either)."""
        with self._tx() as session:
            self._actor(session, actor, roles)
            self._record(session, actor, action, target, detail)

    def admin_events(
        self, *, actor: str | None = None, action: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AdminEvent], int]:
        """The audit log, newest first: one page of it and how many lines match in all.
        ``action`` is a prefix (``user`` finds ``user.create``, ``user.deactivate``...)."""
        query = sa.select(AdminEventRow)
        if actor:
            query = query.where(AdminEventRow.actor == actor)
        if action:
            query = query.where(AdminEventRow.action.startswith(action, autoescape=True))
        with self._tx() as session:
            total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(AdminEventRow.id.desc()).limit(limit).offset(offset)).all()
            return [AdminEvent.model_validate(r) for r in rows], int(total)

    # -- users -----------------------------------------------------------------------------

    def _user_in_scope(self, session: Session, username: str, units: set[str]) -> UserRow:
        row = session.get(UserRow, username)
        if row is None:
            raise NotFound("user", username)
        if row.unit_id not in units:
            raise PermissionDenied(f"user {username!r} belongs to {row.unit_id}, outside your units")
        return row

    def _unit_in_scope(self, session: Session, unit: str, units: set[str]) -> OrgUnitRow:
        row = session.get(OrgUnitRow, unit)
        if row is None:
            raise NotFound("organisation unit", unit)
        if unit not in units:
            raise PermissionDenied(f"unit {unit!r} is outside your units")
        return row

    def admin_create_user(
        self, actor: str, username: str, password: str, *, role: str, unit: str, display_name: str = ""
    ) -> User:
        """Create a user in one of the actor's units."""
        if not _USERNAME.match(username):
            raise ValueError(
                f"user name {username!r}: use 2-100 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        _check_role(role)
        _check_password(password)
        hashed = _HASHER.hash(password)
        with self._tx() as session:
            _, units = self._actor(session, actor)
            self._unit_in_scope(session, unit, units)
            if session.get(UserRow, username) is not None:
                raise ValueError(f"user {username!r} exists already")
            row = UserRow(
                username=username,
                display_name=display_name.strip() or username,
                role=role,
                unit_id=unit,
                password_hash=hashed,
                active=True,
                created_at=self.now(),
            )
            session.add(row)
            self._record(session, actor, "user.create", f"user:{username}", f"role {role}, unit {unit}")
            session.flush()
            return User.model_validate(row)

    def admin_update_user(
        self,
        actor: str,
        username: str,
        *,
        role: str | None = None,
        unit: str | None = None,
        display_name: str | None = None,
    ) -> User:
        """Change a user's role, unit or name (only what is given and differs)."""
        if role is not None:
            _check_role(role)
        with self._tx() as session:
            _, units = self._actor(session, actor)
            row = self._user_in_scope(session, username, units)
            changes = []
            if role is not None and role != row.role:
                if username == actor:
                    raise PermissionDenied("you cannot change your own role: ask another admin")
                changes.append(f"role {row.role} → {role}")
                row.role = role
            if unit is not None and unit != row.unit_id:
                self._unit_in_scope(session, unit, units)
                if username == actor:
                    raise PermissionDenied("you cannot move yourself to another unit: ask another admin")
                changes.append(f"unit {row.unit_id} → {unit}")
                row.unit_id = unit
            if display_name is not None and display_name.strip() and display_name.strip() != row.display_name:
                changes.append(f"name {row.display_name!r} → {display_name.strip()!r}")
                row.display_name = display_name.strip()
            if changes:
                self._record(session, actor, "user.update", f"user:{username}", "; ".join(changes))
            return User.model_validate(row)

    def admin_set_user_active(self, actor: str, username: str, active: bool) -> User:
        """Deactivate a user (they can no longer sign in; their session ends at once) or
        activate them again."""
        with self._tx() as session:
            _, units = self._actor(session, actor)
            row = self._user_in_scope(session, username, units)
            if username == actor and not active:
                raise PermissionDenied("you cannot deactivate yourself: ask another admin")
            if row.active != active:
                row.active = active
                self._record(
                    session, actor, "user.activate" if active else "user.deactivate", f"user:{username}"
                )
            return User.model_validate(row)

    def admin_reset_password(self, actor: str, username: str, password: str) -> None:
        """Give a user a new password (tell them on another channel)."""
        _check_password(password)
        hashed = _HASHER.hash(password)
        with self._tx() as session:
            _, units = self._actor(session, actor)
            row = self._user_in_scope(session, username, units)
            row.password_hash = hashed
            self._record(session, actor, "user.password", f"user:{username}", "password reset")

    # -- units and queues -----------------------------------------------------------------

    def admin_save_unit(
        self, actor: str, unit_id: str, name: str, *, parent: str, escalation_queue: str | None = None
    ) -> OrgUnit:
        """Create a unit under ``parent`` (one of the actor's units), or rename an existing
        unit below the actor's own and set its escalation queue."""
        if not _NAME.match(unit_id):
            raise ValueError(
                f"unit id {unit_id!r}: use lower-case letters, digits and '_', starting with a letter"
            )
        if not name.strip():
            raise ValueError("give the unit a name")
        with self._tx() as session:
            me, units = self._actor(session, actor)
            self._unit_in_scope(session, parent, units)
            if escalation_queue and session.get(QueueRow, escalation_queue) is None:
                raise NotFound("queue", escalation_queue)
            row = session.get(OrgUnitRow, unit_id)
            if row is None:
                row = OrgUnitRow(id=unit_id, name=name.strip(), parent_id=parent)
                session.add(row)
                action, detail = "unit.create", f"under {parent}"
            else:
                if unit_id not in units or unit_id == me.unit_id:
                    raise PermissionDenied(f"unit {unit_id!r} is not below your own unit")
                if parent in self._subtree(session, unit_id):
                    raise ValueError(f"unit {unit_id!r} cannot be placed under itself or its own units")
                action = "unit.update"
                detail = f"name {name.strip()!r}, under {parent}"
                row.name, row.parent_id = name.strip(), parent
            row.escalation_queue = escalation_queue or None
            if escalation_queue:
                detail += f", escalates to {escalation_queue}"
            self._record(session, actor, action, f"unit:{unit_id}", detail)
            session.flush()
            return OrgUnit.model_validate(row)

    def admin_save_queue(
        self,
        actor: str,
        name: str,
        unit: str,
        *,
        sla_minutes: int,
        description: str = "",
        escalates_to: str | None = None,
    ) -> Queue:
        """Create or change a queue of one of the actor's units and its service level: its tasks
        are due ``sla_minutes`` after they arrive (tasks already there keep their due time)."""
        if not _NAME.match(name):
            raise ValueError(
                f"queue name {name!r}: use lower-case letters, digits and '_', starting with a letter"
            )
        if not 0 < sla_minutes <= MAX_SLA_MINUTES:
            raise ValueError(
                f"SLA of {sla_minutes} minutes: give a positive number of minutes, "
                f"at most {MAX_SLA_MINUTES} (a year)"
            )
        with self._tx() as session:
            _, units = self._actor(session, actor)
            self._unit_in_scope(session, unit, units)
            if escalates_to and (escalates_to == name or session.get(QueueRow, escalates_to) is None):
                raise ValueError(f"escalates_to {escalates_to!r} must be another existing queue")
            row = session.get(QueueRow, name)
            if row is None:
                row = QueueRow(name=name, unit_id=unit)
                session.add(row)
                action = "queue.create"
            else:
                if row.unit_id not in units:
                    raise PermissionDenied(f"queue {name!r} belongs to {row.unit_id}, outside your units")
                action = "queue.update"
            row.unit_id, row.sla_minutes, row.description = unit, sla_minutes, description.strip()
            row.escalates_to = escalates_to or None
            detail = f"unit {unit}, SLA {sla_minutes} min" + (
                f", escalates to {escalates_to}" if escalates_to else ""
            )
            self._record(session, actor, action, f"queue:{name}", detail)
            session.flush()
            return Queue.model_validate(row)

    # -- channel tokens --------------------------------------------------------------------

    def admin_issue_token(
        self, actor: str, channel: str, workflows: list[str], *, description: str = ""
    ) -> tuple[ApiToken, str]:
        """A new channel token: the record and the plaintext, which is shown this once and
        stored only as a hash."""
        if not _CHANNEL.match(channel):
            raise ValueError(f"channel {channel!r}: use lower-case letters, digits, '_' or '-' (e.g. ivr)")
        workflows = [w.strip() for w in workflows if w.strip()]
        if not workflows:
            raise ValueError("name the workflows the token may start ('*' for all)")
        plaintext = f"tdm_{secrets.token_urlsafe(32)}"
        with self._tx() as session:
            self._actor(session, actor)
            row = ApiTokenRow(
                id=new_id("t"),
                channel=channel,
                token_hash=_token_hash(plaintext),
                workflows=workflows,
                description=description.strip(),
                created_at=self.now(),
                revoked_at=None,
            )
            session.add(row)
            self._record(
                session,
                actor,
                "token.issue",
                f"token:{row.id}",
                f"channel {channel}, workflows {', '.join(workflows)}",
            )
            session.flush()
            return ApiToken.model_validate(row), plaintext

    def admin_revoke_token(self, actor: str, token_id: str) -> ApiToken:
        """Revoke a token: it stops working within the API's token cache time (2 s by default)."""
        with self._tx() as session:
            self._actor(session, actor)
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound("API token", token_id)
            if row.revoked_at is None:
                row.revoked_at = self.now()
                self._record(session, actor, "token.revoke", f"token:{token_id}", f"channel {row.channel}")
            return ApiToken.model_validate(row)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password is too short: use at least {MIN_PASSWORD} characters")
