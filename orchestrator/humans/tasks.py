"""Human tasks and callouts: the robot's side (create, read the answer) and the agent's side.

A task lives in a queue; the queue belongs to an organisation unit; a user sees the tasks
of their unit and every unit below it. Task states: ``open`` → ``claimed`` (an agent works
it) → ``completed`` | ``returned`` (to the robot) | ``cancelled``; ``release`` puts a
claimed task back to ``open``. How a person ends a task, and what that means for the case
and the customer, is ``orchestrator.humans.outcomes``; who may do what is
``orchestrator.humans.roles``.

A postponed task comes back to its queue when its time comes (``announce_postponed_tasks``).
Moving a task one level up (by the SLA rule or a supervisor) is
``orchestrator.humans.escalation``; the callouts a task sends are
``orchestrator.humans.callout_store``.

Cases carry no unit of their own; a case belongs to the units of the queues it uses (see
``case_scope``), and that is what an ops user of a country or branch sees of cases.

Owns: ``TaskStore`` (create, reopen, read the answer; list, claim, release, reassign,
comment; postponed tasks due again; the case scope), ``AnswerInvalid``.

May import: ``orchestrator.humans.callout_store``, ``orchestrator.humans.people``,
``orchestrator.humans.roles``, ``orchestrator.humans.task_search``, ``orchestrator.storage``,
``orchestrator.errors``, ``orchestrator.models`` and ``robots``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.errors import InvalidTransition, NotFound, OrchestratorError, PermissionDenied
from orchestrator.humans.callout_store import CalloutStore, task_callout
from orchestrator.humans.roles import require
from orchestrator.humans.task_search import candidate_condition, matches, search_words
from orchestrator.models import OPEN_TASK, HumanTask, TaskEvent
from orchestrator.storage.base import new_id
from orchestrator.storage.tables import (
    CaseRow,
    OrgUnitRow,
    QueueRow,
    TaskEventRow,
    TaskRow,
    UserRow,
)
from robots.engine.human_steps import check_answer
from robots.engine.run_context import DataError
from robots.errors import DefinitionError, HumanTaskRequest

SUPERVISING = ("supervisor", "admin")


class AnswerInvalid(OrchestratorError):
    """A form answer does not fit the task's form; ``problems`` lists every reason."""

    def __init__(self, task_id: str, problems: list[str]) -> None:
        self.task_id = task_id
        self.problems = problems
        super().__init__(f"the answer to task {task_id} does not fit its form: " + "; ".join(problems))


def note_breach(task: TaskRow, moment: datetime) -> None:
    """Record that the task missed its due time, once, when ``moment`` is past it."""
    if moment > task.due_at and task.breached_at is None:
        task.breached_at = task.due_at


def _origin(request: HumanTaskRequest, key: str) -> str:
    if request.kind == "await_human":
        return "await_human"
    # The engine names the key of a failure's task '<case>:failure:<run>' and an escalate
    # step's '<case>:<step path>'.
    return "failure" if ":failure:" in key else "escalate"


class TaskStore(CalloutStore):
    """Human tasks and their events; which cases a user sees."""

    # -- the robot's side ----------------------------------------------------------------

    def _create_task_in(
        self,
        session: Session,
        request: HumanTaskRequest,
        *,
        case_id: str | None,
        run_id: str | None,
        key: str,
        origin: str,
        actor: str,
    ) -> str:
        existing = session.scalars(sa.select(TaskRow).where(TaskRow.key == key)).first()
        if existing is not None:
            if existing.outcome == "postponed" and existing.status not in OPEN_TASK:
                # Postponed for a robot to try again, and it needs a person again: the same task.
                self._reopen_in(session, existing, request, actor)
            return existing.id
        queue = self._queue_for_task(session, request.queue)
        now = self.now()
        task = TaskRow(
            id=new_id("t"),
            key=key,
            case_id=case_id,
            run_id=run_id,
            kind=request.kind,
            origin=origin,
            queue=queue.name,
            reason=request.reason,
            data=dict(request.data),
            form=list(request.form),
            step=request.step,
            priority=request.priority,
            status="open",
            created_at=now,
            due_at=now + timedelta(minutes=queue.sla_minutes),
            escalation_level=0,
            outcomes=dict(request.outcomes) or None,
        )
        session.add(task)
        session.flush()
        self._task_event(session, task.id, actor, "created", request.reason)
        session.add(task_callout(task, at=now, title=f"New task in {queue.name}", level="info"))
        return task.id

    def create_task(
        self,
        request: HumanTaskRequest,
        *,
        case_id: str | None,
        run_id: str | None,
        key: str,
        actor: str = "robot",
    ) -> str:
        """Create the task (or find it by ``key``: idempotent); its id. A 'task' callout is stored."""
        origin = _origin(request, key)
        for _ in range(3):
            try:
                with self._tx() as session:
                    return self._create_task_in(
                        session, request, case_id=case_id, run_id=run_id, key=key, origin=origin, actor=actor
                    )
            except IntegrityError:
                continue  # another process created the same key at the same moment: read it
        with self._tx() as session:
            found = session.scalars(sa.select(TaskRow.id).where(TaskRow.key == key)).first()
            if found is None:
                raise OrchestratorError(f"task {key!r} could neither be created nor found")
            return found

    def create_manual_task(
        self,
        username: str,
        queue: str,
        reason: str,
        *,
        data: dict[str, Any] | None = None,
        form: list[dict[str, Any]] | None = None,
        priority: int = 0,
        case_id: str | None = None,
    ) -> HumanTask:
        """A task an agent creates by hand (e.g. a call-back), in a queue the agent can see."""
        with self._tx() as session:
            visible = self._visible_units(session, username)
            queue_row = session.get(QueueRow, queue)
            if queue_row is None:
                raise NotFound("queue", queue)
            if queue_row.unit_id not in visible:
                raise PermissionDenied(f"{username} may not add tasks to queue {queue!r} (another unit)")
            request = HumanTaskRequest(
                queue=queue, reason=reason, data=data or {}, form=form or [], priority=priority, kind="manual"
            )
            task_id = self._create_task_in(
                session,
                request,
                case_id=case_id,
                run_id=None,
                key=new_id("manual"),
                origin="manual",
                actor=username,
            )
            return HumanTask.model_validate(session.get(TaskRow, task_id))

    def reopen_task(self, task_id: str, request: HumanTaskRequest, *, actor: str = "robot") -> None:
        """An answered task back in front of a person with a new reason, data and form (the
        robot found the answer out of date, e.g. the slot was taken meanwhile): it is claimed
        by whoever answered it (they have the customer on the line) or else open, due by its
        queue's SLA from now, and a 'task' callout goes out. An open task is left as it is, and
        so is one this step (``request.step``) reopened already: a run resumed after a crash
        reaching the step again must not throw away the answer given to it meanwhile."""
        with self._tx() as session:
            task = session.scalars(sa.select(TaskRow).where(TaskRow.id == task_id).with_for_update()).first()
            if task is None:
                raise NotFound("task", task_id)
            if task.status in OPEN_TASK or (request.step and task.step == request.step):
                return
            self._reopen_in(session, task, request, actor)

    def _reopen_in(self, session: Session, task: TaskRow, request: HumanTaskRequest, actor: str) -> None:
        queue = self._queue_for_task(session, task.queue)
        now = self.now()
        holder = task.closed_by if task.closed_by and session.get(UserRow, task.closed_by) else None
        if task.outcome == "postponed":
            holder = None  # back in the queue for whoever is there at the time
        task.reason, task.data, task.form = request.reason, dict(request.data), list(request.form)
        task.step = request.step or task.step  # the step whose answer the task holds next
        task.outcomes = dict(request.outcomes) or task.outcomes
        task.answer = task.outcome = task.outcome_note = None
        task.closed_at = task.closed_by = task.available_at = None
        task.status, task.assignee = ("claimed", holder) if holder else ("open", None)
        task.claimed_at = now if holder else None
        task.due_at = now + timedelta(minutes=queue.sla_minutes)
        self._task_event(session, task.id, actor, "reopened", request.reason)
        session.add(
            task_callout(
                task,
                at=now,
                title=f"Task {task.id} needs you again",
                level="warning",
                queue=queue.name,
                agent=holder,
            )
        )

    def answer_for(self, task_id: str) -> dict[str, Any] | None:
        """The task's answer once an agent completed or returned it with one; else None."""
        with self._tx() as session:
            task = session.get(TaskRow, task_id)
            if task is None or task.status not in ("completed", "returned"):
                return None
            return dict(task.answer) if task.answer is not None else None

    # -- the agent's side ----------------------------------------------------------------

    def _task_event(self, session: Session, task_id: str, actor: str, action: str, detail: str = "") -> None:
        session.add(TaskEventRow(task_id=task_id, at=self.now(), actor=actor, action=action, detail=detail))

    def _task_for(self, session: Session, task_id: str, username: str) -> tuple[TaskRow, UserRow]:
        """The task, locked, when ``username`` may see it; PermissionDenied otherwise."""
        task = session.scalars(sa.select(TaskRow).where(TaskRow.id == task_id).with_for_update()).first()
        if task is None:
            raise NotFound("task", task_id)
        user = session.get(UserRow, username)
        if user is None or not user.active:
            raise PermissionDenied(f"unknown or inactive user {username!r}")
        queue = session.get(QueueRow, task.queue)
        if queue is None or queue.unit_id not in self._subtree(session, user.unit_id):
            raise PermissionDenied(f"task {task_id} belongs to a unit outside {username}'s ({user.unit_id})")
        return task, user

    def case_facts(self, case_ids: list[str]) -> dict[str, tuple[str, str, str]]:
        """case id -> (workflow, reference, status), in one query for a whole task list."""
        if not case_ids:
            return {}
        query = sa.select(CaseRow.id, CaseRow.workflow, CaseRow.reference, CaseRow.status).where(
            CaseRow.id.in_(case_ids)
        )
        with self.engine.connect() as connection:
            return {row[0]: (row[1], row[2], row[3]) for row in connection.execute(query)}

    def queue_counts(self, within: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """Every queue (or those named in ``within``) with its number of tasks per state (one
        grouped query)."""
        query = sa.select(TaskRow.queue, TaskRow.status, sa.func.count()).group_by(
            TaskRow.queue, TaskRow.status
        )
        with self.engine.connect() as connection:
            counted = connection.execute(query).all()
            queues = connection.execute(
                sa.select(QueueRow.name, QueueRow.unit_id, QueueRow.sla_minutes)
            ).all()
        rows: dict[str, dict[str, Any]] = {
            name: {"name": name, "unit": unit, "sla_minutes": sla, "counts": {}} for name, unit, sla in queues
        }
        for name, status, count in counted:
            rows.setdefault(name, {"name": name, "unit": "?", "sla_minutes": None, "counts": {}})["counts"][
                status
            ] = count
        return [rows[name] for name in sorted(rows) if within is None or name in within]

    def list_tasks(
        self,
        username: str,
        *,
        statuses: tuple[str, ...] = ("open", "claimed"),
        queue: str | None = None,
        assignee: str | None = None,
        case_id: str | None = None,
        search: str = "",
        limit: int = 200,
    ) -> list[HumanTask]:
        """Tasks ``username`` may see (their unit and below), most urgent first (due time, priority).

        ``search``: only the tasks every word of it finds (``orchestrator.humans.task_search``:
        reference, payload and data values, queue...)."""
        words = search_words(search)
        with self._tx() as session:
            visible = self._visible_units(session, username)
            query = (
                sa.select(TaskRow)
                .join(QueueRow, QueueRow.name == TaskRow.queue)
                .where(QueueRow.unit_id.in_(visible), TaskRow.status.in_(statuses))
                .order_by(TaskRow.due_at, TaskRow.priority.desc(), TaskRow.created_at)
            )
            if queue is not None:
                query = query.where(TaskRow.queue == queue)
            if assignee is not None:
                query = query.where(TaskRow.assignee == assignee)
            if case_id is not None:
                query = query.where(TaskRow.case_id == case_id)
            if not words:
                return [HumanTask.model_validate(r) for r in session.scalars(query.limit(limit))]
            return self._searched(session, query, words, limit)

    def _searched(
        self, session: Session, query: sa.Select[Any], words: list[str], limit: int
    ) -> list[HumanTask]:
        """The first ``limit`` tasks of ``query`` that ``words`` find: the database narrows the
        candidates, ``task_search.matches`` decides on the values."""
        query = query.outerjoin(CaseRow, CaseRow.id == TaskRow.case_id).add_columns(
            CaseRow.reference, CaseRow.workflow, CaseRow.payload
        )
        for word in words:
            condition = candidate_condition(word)
            if condition is not None:
                query = query.where(condition)
        secret_inputs: dict[str, set[str]] = {}
        found: list[HumanTask] = []
        for task, reference, workflow, payload in session.execute(query.execution_options(yield_per=200)):
            if workflow is not None and workflow not in secret_inputs:
                secret_inputs[workflow] = self._secret_inputs(workflow)
            shown = {k: v for k, v in (payload or {}).items() if k not in secret_inputs.get(workflow, set())}
            texts = [task.queue, task.reason, task.assignee, reference, workflow]
            if matches(words, [task.id, task.case_id], texts, [task.data, shown]):
                found.append(HumanTask.model_validate(task))
                if len(found) >= limit:
                    break
        return found

    def _secret_inputs(self, workflow: str) -> set[str]:
        """The names of the workflow's ``secret: true`` inputs (none when it cannot be read)."""
        try:
            return {name for name, spec in self.project.workflow(workflow).input.items() if spec.secret}
        except DefinitionError:
            return set()

    def get_task(self, task_id: str, username: str | None = None) -> HumanTask:
        """A task; with ``username``, only when that user may see it (PermissionDenied otherwise)."""
        with self._tx() as session:
            if username is None:
                row = session.get(TaskRow, task_id)
                if row is None:
                    raise NotFound("task", task_id)
            else:
                row, _ = self._task_for(session, task_id, username)
            return HumanTask.model_validate(row)

    def task_events(self, task_id: str) -> list[TaskEvent]:
        """What happened to a task (created, claimed, comments...), oldest first."""
        with self._tx() as session:
            rows = session.scalars(
                sa.select(TaskEventRow).where(TaskEventRow.task_id == task_id).order_by(TaskEventRow.id)
            )
            return [TaskEvent.model_validate(r) for r in rows]

    def claim_task(self, task_id: str, username: str) -> HumanTask:
        """Take an open task to work on it."""
        with self._tx() as session:
            task, user = self._task_for(session, task_id, username)
            require(username, user.role, "task.claim")
            if task.status == "claimed" and task.assignee == username:
                return HumanTask.model_validate(task)
            if task.status != "open":
                who = f" by {task.assignee}" if task.status == "claimed" else ""
                raise InvalidTransition(
                    f"task {task_id} is {task.status}{who}; only an open task can be claimed"
                )
            if task.available_at is not None and task.available_at > self.now():
                raise InvalidTransition(
                    f"task {task_id} is postponed until {task.available_at:%Y-%m-%d %H:%M} UTC; "
                    "it can be claimed from then (it pops up in its queue at that time)"
                )
            task.status, task.assignee, task.claimed_at = "claimed", username, self.now()
            self._task_event(session, task.id, username, "claimed")
            return HumanTask.model_validate(task)

    def release_task(self, task_id: str, username: str) -> HumanTask:
        """Give a claimed task back to the queue (its holder, or a supervisor)."""
        with self._tx() as session:
            task, user = self._task_for(session, task_id, username)
            require(username, user.role, "task.release")
            if task.status != "claimed":
                raise InvalidTransition(f"task {task_id} is {task.status}, not claimed")
            if task.assignee != username and user.role not in SUPERVISING:
                raise PermissionDenied(
                    f"task {task_id} is held by {task.assignee}; only they or a supervisor may release it"
                )
            task.status, task.assignee, task.claimed_at = "open", None, None
            self._task_event(session, task.id, username, "released")
            return HumanTask.model_validate(task)

    def reassign_task(self, task_id: str, username: str, to_username: str) -> HumanTask:
        """A supervisor gives a task to another agent (who must be able to see it)."""
        with self._tx() as session:
            task, user = self._task_for(session, task_id, username)
            require(username, user.role, "task.reassign")
            if task.status not in OPEN_TASK:
                raise InvalidTransition(
                    f"task {task_id} is {task.status}; only open or claimed tasks can be reassigned"
                )
            target = session.get(UserRow, to_username)
            queue = session.get(QueueRow, task.queue)
            if target is None or not target.active:
                raise NotFound("user", to_username)
            if queue is None or queue.unit_id not in self._subtree(session, target.unit_id):
                raise PermissionDenied(f"{to_username} ({target.unit_id}) cannot see queue {task.queue!r}")
            task.status, task.assignee, task.claimed_at = "claimed", to_username, self.now()
            self._task_event(session, task.id, username, "reassigned", f"to {to_username}")
            return HumanTask.model_validate(task)

    def comment_task(self, task_id: str, username: str, text: str) -> TaskEvent:
        """Add a comment to a task's history."""
        if not text.strip():
            raise ValueError("an empty comment says nothing; write some text")
        with self._tx() as session:
            task, user = self._task_for(session, task_id, username)
            require(username, user.role, "task.comment")
            event = TaskEventRow(
                task_id=task.id, at=self.now(), actor=username, action="comment", detail=text
            )
            session.add(event)
            session.flush()
            return TaskEvent.model_validate(event)

    def _check_holder(self, task: TaskRow, user: UserRow) -> None:
        if task.status not in OPEN_TASK:
            raise InvalidTransition(f"task {task.id} is {task.status} already")
        if task.status == "claimed" and task.assignee != user.username and user.role not in SUPERVISING:
            raise PermissionDenied(f"task {task.id} is held by {task.assignee}; claim it first")

    def _checked_answer(self, task: TaskRow, answer: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_answer(list(task.form), answer)
        except DataError as error:
            problems = str(error).removeprefix("the answer does not fit the form: ").split("; ")
            raise AnswerInvalid(task.id, problems) from None

    def _close(
        self, session: Session, task: TaskRow, status: str, username: str, answer: dict[str, Any] | None
    ) -> None:
        now = self.now()
        task.status, task.answer, task.closed_at, task.closed_by = status, answer, now, username
        if task.assignee is None:
            task.assignee = username
        note_breach(task, now)
        self._task_event(session, task.id, username, status)

    def _case_of(self, session: Session, task: TaskRow) -> CaseRow | None:
        if task.case_id is None:
            return None
        return session.scalars(sa.select(CaseRow).where(CaseRow.id == task.case_id).with_for_update()).first()

    def _requeue(self, session: Session, case: CaseRow, actor: str, reason: str) -> None:
        case.failures = 0
        case.not_before = None
        case.finished_at = None
        self._transition(session, case, "queued", actor=actor, reason=reason)

    def announce_postponed_tasks(self, now: datetime | None = None) -> list[HumanTask]:
        """Postponed tasks whose time has come, back in their queue: the announced tasks.

        Each gets a "task" callout to its queue's agents (the callout hub pops it up, like a
        new task) and an audit line; its ``available_at`` is cleared in the same transaction,
        so however many servers and workers call this, each task is announced once.
        """
        moment = now or self.now()
        announced: list[HumanTask] = []
        with self._tx() as session:
            due = list(
                session.scalars(
                    sa.select(TaskRow).where(
                        TaskRow.status == "open",
                        TaskRow.available_at.is_not(None),
                        TaskRow.available_at <= moment,
                    )
                )
            )
            for task in due:
                # Only the caller whose update still finds the mark announces the task.
                cleared = session.execute(
                    sa.update(TaskRow)
                    .where(TaskRow.id == task.id, TaskRow.available_at.is_not(None))
                    .values(available_at=None)
                    .execution_options(synchronize_session=False)
                )
                if not cleared.rowcount:  # type: ignore[attr-defined]
                    continue
                until = task.available_at
                task.available_at = None
                self._task_event(
                    session,
                    task.id,
                    "orchestrator",
                    "due_again",
                    f"postponed until {until:%Y-%m-%d %H:%M} UTC",
                )
                session.add(
                    task_callout(
                        task, at=moment, title=f"Postponed task {task.id} is due now", level="warning"
                    )
                )
                announced.append(HumanTask.model_validate(task))
        return announced

    # -- which cases a user sees -----------------------------------------------------------

    def _case_scope(self, session: Session, username: str) -> sa.ColumnElement[bool] | None:
        visible = self._visible_units(session, username)
        if visible >= set(session.scalars(sa.select(OrgUnitRow.id))):
            return None
        theirs = sa.select(QueueRow.name).where(QueueRow.unit_id.in_(visible))
        scope = sa.or_(
            CaseRow.exception_queue.in_(theirs),
            CaseRow.id.in_(sa.select(TaskRow.case_id).where(TaskRow.queue.in_(theirs))),
        )
        home = self._home_unit(session)
        if home is not None and home.id in visible:
            # A queue the organisation file lacks is headquarters' (as for tasks).
            scope = sa.or_(scope, CaseRow.exception_queue.not_in(sa.select(QueueRow.name)))
        return scope

    def case_scope(self, username: str) -> sa.ColumnElement[bool] | None:
        """The cases ``username`` may see, as a condition on the ``cases`` table; None: every case.

        Cases carry no unit; a case belongs to the units that own the queues it uses: its
        workflow's exception queue (kept on the case when it is created) and the queues of its
        human tasks. A user sees a case when one of those units is theirs or below theirs, so
        headquarters sees every case, Munich the cases of its queues (and a case whose task
        escalated from Munich to Germany stays visible to both).
        """
        with self._tx() as session:
            return self._case_scope(session, username)

    def visible_case_ids(self, username: str, case_ids: Iterable[str]) -> set[str]:
        """Those of ``case_ids`` that name a case ``username`` may see."""
        wanted = set(case_ids)
        if not wanted:
            return set()
        with self._tx() as session:
            query = sa.select(CaseRow.id).where(CaseRow.id.in_(wanted))
            scope = self._case_scope(session, username)
            if scope is not None:
                query = query.where(scope)
            return set(session.scalars(query))

    def check_case_visible(self, case_id: str, username: str) -> None:
        """NotFound when no case has that id; PermissionDenied when the user's role may not
        open cases (the roles table) or the case belongs to other units."""
        with self._tx() as session:
            user = session.get(UserRow, username)
            role = user.role if user is not None and user.active else "nobody"
        require(username, role, "case.view")
        if case_id not in self.visible_case_ids(username, [case_id]):
            with self._tx() as session:
                if session.get(CaseRow, case_id) is None:
                    raise NotFound("case", case_id)
            raise PermissionDenied(f"case {case_id} belongs to units outside {username}'s")
