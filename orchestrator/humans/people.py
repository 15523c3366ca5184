"""Organisation units, queues, users, API tokens and robots; the organisation YAML file.

The organisation file (default ``orchestrator/humans/org.yaml``, or ``TANDEM_ORG_FILE``) declares
the unit hierarchy (headquarters → country → branch), the queues each unit owns with their
service levels, and users with their roles. Loading it is idempotent: units and queues are
created or updated, users are created when missing (an existing user's password is kept).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.errors import NotFound, OrganisationError, PermissionDenied
from orchestrator.models import ROLES, ApiToken, OrgUnit, Queue, RobotInfo, Role, User
from orchestrator.storage.base import StoreBase, new_id
from orchestrator.storage.tables import ApiTokenRow, OrgUnitRow, QueueRow, RobotRow, UserRow

DEFAULT_ORG_FILE = Path(__file__).resolve().parent / "org.yaml"
# OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane): strong against offline
# guessing, yet a login costs ~0.1 s, not the library default's ~1 s on a busy 2-core host.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
DEFAULT_SLA_MINUTES = 240


def _token_hash(plaintext: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is as good as a slow one here and
    # lets every API request be checked in microseconds; passwords get argon2.
    return hashlib.sha256(plaintext.encode()).hexdigest()


class _UnitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    escalation_queue: str | None = None
    children: list[_UnitSpec] = Field(default_factory=list)


class _QueueSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    unit: str
    sla_minutes: int = Field(DEFAULT_SLA_MINUTES, gt=0)
    description: str = ""
    escalates_to: str | None = None


class _UserSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    name: str
    role: Role
    unit: str
    password: str = Field(min_length=8)


class _OrgSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: list[_UnitSpec]
    queues: list[_QueueSpec] = Field(default_factory=list)
    users: list[_UserSpec] = Field(default_factory=list)


def read_organisation(path: Path | str) -> dict[str, Any]:
    """The organisation file checked: every problem named with its place and a fix."""
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise OrganisationError(f"{file}: cannot read the organisation file: {error}") from None
    try:
        spec = _OrgSpec.model_validate(raw)
    except ValidationError as error:
        problems = [
            f"{file}: {'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}" for e in error.errors()
        ]
        raise OrganisationError(
            "the organisation file has problems (see docs/operations.md for its format):\n  "
            + "\n  ".join(problems)
        ) from None
    units: list[tuple[_UnitSpec, str | None]] = []

    def flatten(unit: _UnitSpec, parent: str | None) -> None:
        units.append((unit, parent))
        for child in unit.children:
            flatten(child, unit.id)

    for root in spec.units:
        flatten(root, None)
    known = {unit.id for unit, _ in units}
    queues = {queue.name for queue in spec.queues}
    problems = []
    if len(known) != len(units):
        problems.append("a unit id is used twice; unit ids must be unique")
    for queue in spec.queues:
        if queue.unit not in known:
            problems.append(f"queue {queue.name!r}: unknown unit {queue.unit!r} (units: {sorted(known)})")
        if queue.escalates_to and queue.escalates_to not in queues:
            problems.append(f"queue {queue.name!r}: escalates_to names unknown queue {queue.escalates_to!r}")
    for unit, _ in units:
        if unit.escalation_queue and unit.escalation_queue not in queues:
            problems.append(f"unit {unit.id!r}: escalation_queue {unit.escalation_queue!r} is not a queue")
    for user in spec.users:
        if user.unit not in known:
            problems.append(f"user {user.username!r}: unknown unit {user.unit!r} (units: {sorted(known)})")
    if problems:
        raise OrganisationError(f"{file}: " + f"\n{file}: ".join(problems))
    return {"units": units, "queues": spec.queues, "users": spec.users}


class PeopleStore(StoreBase):
    """Units, queues, users, tokens and robots."""

    # -- organisation --------------------------------------------------------------------

    def load_organisation(self, path: Path | str | None = None) -> None:
        """Create or update units, queues and users from the organisation YAML file."""
        spec = read_organisation(path or os.environ.get("TANDEM_ORG_FILE") or DEFAULT_ORG_FILE)
        for unit, parent in spec["units"]:
            self.create_unit(unit.id, unit.name, parent=parent)
        for queue in spec["queues"]:
            self.create_queue(
                queue.name,
                queue.unit,
                sla_minutes=queue.sla_minutes,
                description=queue.description,
                escalates_to=queue.escalates_to,
            )
        for unit, parent in spec["units"]:
            self.create_unit(unit.id, unit.name, parent=parent, escalation_queue=unit.escalation_queue)
        for user in spec["users"]:
            if self.get_user(user.username) is None:
                self.create_user(
                    user.username, user.password, role=user.role, unit=user.unit, display_name=user.name
                )

    def create_unit(
        self, unit_id: str, name: str, *, parent: str | None = None, escalation_queue: str | None = None
    ) -> OrgUnit:
        """Create or update an organisation unit under ``parent`` (None: a root, e.g. headquarters)."""
        with self._tx() as session:
            if parent is not None and session.get(OrgUnitRow, parent) is None:
                raise NotFound("organisation unit", parent)
            row = session.get(OrgUnitRow, unit_id)
            if row is None:
                row = OrgUnitRow(id=unit_id, name=name, parent_id=parent, escalation_queue=escalation_queue)
                session.add(row)
            else:
                row.name, row.parent_id = name, parent
                if escalation_queue is not None:
                    row.escalation_queue = escalation_queue
            session.flush()
            return OrgUnit.model_validate(row)

    def list_units(self) -> list[OrgUnit]:
        """Every organisation unit."""
        with self._tx() as session:
            return [
                OrgUnit.model_validate(r)
                for r in session.scalars(sa.select(OrgUnitRow).order_by(OrgUnitRow.id))
            ]

    def create_queue(
        self,
        name: str,
        unit: str,
        *,
        sla_minutes: int = DEFAULT_SLA_MINUTES,
        description: str = "",
        escalates_to: str | None = None,
    ) -> Queue:
        """Create or update a queue owned by ``unit``; its tasks are due ``sla_minutes`` after creation."""
        with self._tx() as session:
            if session.get(OrgUnitRow, unit) is None:
                raise NotFound("organisation unit", unit)
            row = session.get(QueueRow, name)
            if row is None:
                row = QueueRow(name=name, unit_id=unit)
                session.add(row)
            row.unit_id, row.sla_minutes, row.description = unit, sla_minutes, description
            row.escalates_to = escalates_to
            session.flush()
            return Queue.model_validate(row)

    def list_queues(self, username: str | None = None) -> list[Queue]:
        """Every queue, or those a user can see (their unit and the units below)."""
        with self._tx() as session:
            rows = list(session.scalars(sa.select(QueueRow).order_by(QueueRow.name)))
            if username is not None:
                visible = self._visible_units(session, username)
                rows = [r for r in rows if r.unit_id in visible]
            return [Queue.model_validate(r) for r in rows]

    def _subtree(self, session: Session, unit_id: str) -> set[str]:
        children: dict[str | None, list[str]] = {}
        for unit in session.scalars(sa.select(OrgUnitRow)):
            children.setdefault(unit.parent_id, []).append(unit.id)
        found, todo = set(), [unit_id]
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo += children.get(current, [])
        return found

    def _visible_units(self, session: Session, username: str) -> set[str]:
        user = session.get(UserRow, username)
        if user is None or not user.active:
            raise PermissionDenied(f"unknown or inactive user {username!r}")
        return self._subtree(session, user.unit_id)

    def visible_units(self, username: str) -> set[str]:
        """The units whose tasks ``username`` sees: their own and every unit below it."""
        with self._tx() as session:
            return self._visible_units(session, username)

    def _home_unit(self, session: Session) -> OrgUnitRow | None:
        """The unit that owns what the organisation file does not place: the first root unit
        (by id), i.e. headquarters; None before any unit exists."""
        return session.scalars(
            sa.select(OrgUnitRow).where(OrgUnitRow.parent_id.is_(None)).order_by(OrgUnitRow.id).limit(1)
        ).first()

    def _queue_for_task(self, session: Session, name: str) -> QueueRow:
        """The queue ``name``; a workflow may name one the organisation file lacks: it is created
        under the root unit (so the task is never lost) and shows up for headquarters."""
        row = session.get(QueueRow, name)
        if row is not None:
            return row
        root = self._home_unit(session)
        if root is None:
            root = OrgUnitRow(id="hq", name="Headquarters", parent_id=None)
            session.add(root)
            session.flush()
        row = QueueRow(
            name=name,
            unit_id=root.id,
            sla_minutes=DEFAULT_SLA_MINUTES,
            description="created on first use (not in the organisation file)",
        )
        session.add(row)
        session.flush()
        return row

    # -- users ---------------------------------------------------------------------------

    def create_user(
        self, username: str, password: str, *, role: Role, unit: str, display_name: str | None = None
    ) -> User:
        """Create a user; the password is stored as an argon2 hash."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ValueError(f"the password of {username!r} is too short: use at least 8 characters")
        hashed = _HASHER.hash(password)
        try:
            with self._tx() as session:
                if session.get(OrgUnitRow, unit) is None:
                    raise NotFound("organisation unit", unit)
                row = UserRow(
                    username=username,
                    display_name=display_name or username,
                    role=role,
                    unit_id=unit,
                    password_hash=hashed,
                    active=True,
                    created_at=self.now(),
                )
                session.add(row)
                session.flush()
                return User.model_validate(row)
        except IntegrityError:
            raise ValueError(f"user {username!r} exists already") from None

    def get_user(self, username: str) -> User | None:
        """The user, or None."""
        with self._tx() as session:
            row = session.get(UserRow, username)
            return None if row is None else User.model_validate(row)

    def list_users(self, unit: str | None = None) -> list[User]:
        """Every user, or those of ``unit`` and the units below it."""
        with self._tx() as session:
            rows = list(session.scalars(sa.select(UserRow).order_by(UserRow.username)))
            if unit is not None:
                units = self._subtree(session, unit)
                rows = [r for r in rows if r.unit_id in units]
            return [User.model_validate(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        """The user when the password is right (and the user active), else None."""
        with self._tx() as session:
            row = session.get(UserRow, username)
            if row is None or not row.active:
                # Hash anyway so a wrong user name takes as long as a wrong password.
                _HASHER.hash(password)
                return None
            try:
                _HASHER.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            return User.model_validate(row)

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password."""
        if len(password) < 8:
            raise ValueError("use at least 8 characters")
        with self._tx() as session:
            row = session.get(UserRow, username)
            if row is None:
                raise NotFound("user", username)
            row.password_hash = _HASHER.hash(password)

    def set_user_preferences(self, username: str, *, language: str | None, time_zone: str | None) -> None:
        """A user's own language and time zone for the control room (None: the default)."""
        with self._tx() as session:
            row = session.get(UserRow, username)
            if row is None:
                raise NotFound("user", username)
            row.language = language
            row.time_zone = time_zone

    def set_user_active(self, username: str, active: bool) -> None:
        """Disable (or enable again) a user; a disabled user cannot log in or see tasks."""
        with self._tx() as session:
            row = session.get(UserRow, username)
            if row is None:
                raise NotFound("user", username)
            row.active = active

    # -- API tokens ----------------------------------------------------------------------

    def create_token(
        self, channel: str, workflows: list[str], *, description: str = ""
    ) -> tuple[ApiToken, str]:
        """A new token for a channel (IVR, webform...): the record and the plaintext, shown once."""
        if not workflows:
            raise ValueError("name the workflows the token may start (['*'] for all)")
        token_id = new_id("t")
        plaintext = f"tdm_{secrets.token_urlsafe(32)}"
        with self._tx() as session:
            row = ApiTokenRow(
                id=token_id,
                channel=channel,
                token_hash=_token_hash(plaintext),
                workflows=list(workflows),
                description=description,
                created_at=self.now(),
                revoked_at=None,
            )
            session.add(row)
            session.flush()
            return ApiToken.model_validate(row), plaintext

    def verify_token(self, plaintext: str) -> ApiToken | None:
        """The token's record when it exists and is not revoked, else None."""
        with self._tx() as session:
            row = session.scalars(
                sa.select(ApiTokenRow).where(ApiTokenRow.token_hash == _token_hash(plaintext))
            ).first()
            if row is None or row.revoked_at is not None:
                return None
            return ApiToken.model_validate(row)

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token; it stops working at once."""
        with self._tx() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound("API token", token_id)
            row.revoked_at = self.now()

    def list_tokens(self) -> list[ApiToken]:
        """Every token (without secrets)."""
        with self._tx() as session:
            return [ApiToken.model_validate(r) for r in session.scalars(sa.select(ApiTokenRow))]

    # -- robots --------------------------------------------------------------------------

    def register_robot(self, robot_id: str, *, host: str, pid: int) -> RobotInfo:
        """Record a robot process as started (idle)."""
        now = self.now()
        with self._tx() as session:
            row = session.get(RobotRow, robot_id)
            if row is None:
                row = RobotRow(id=robot_id, cases_done=0)
                session.add(row)
            row.host, row.pid, row.status = host, pid, "idle"
            row.case_id = row.workflow = row.step = None
            row.started_at = row.heartbeat_at = now
            session.flush()
            return RobotInfo.model_validate(row)

    def robot_heartbeat(
        self,
        robot_id: str,
        *,
        status: str | None = None,
        case_id: str | None = None,
        workflow: str | None = None,
        step: str | None = None,
    ) -> None:
        """Say the robot is alive (and, when given, what it is doing)."""
        with self._tx() as session:
            row = session.get(RobotRow, robot_id)
            if row is None:
                return
            now = row.heartbeat_at = self.now()
            before = row.step
            if status is not None:
                row.status, row.case_id, row.workflow, row.step = status, case_id, workflow, step
            elif step is not None:
                row.step = step
            if row.step != before or (row.step is not None and row.step_started_at is None):
                row.step_started_at = now if row.step is not None else None

    def robot_stopped(self, robot_id: str) -> None:
        """Record a robot as stopped."""
        self.robot_heartbeat(robot_id, status="stopped")

    def list_robots(self) -> list[RobotInfo]:
        """Every robot that ever registered, newest heartbeat first."""
        with self._tx() as session:
            rows = session.scalars(sa.select(RobotRow).order_by(RobotRow.heartbeat_at.desc()))
            return [RobotInfo.model_validate(r) for r in rows]
