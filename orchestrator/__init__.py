r"""orchestrator: durable state and services — cases, claims, audit, human tasks, organisation.

Subpackages by capability; dependencies point one way (``tests/unit/test_layout.py``)::

    control_room (HTTP: app, channel API, webform, pages, callout hub)   worker (robot processes)
            \                                                            /
             service.Orchestrator (the facade)      schedules (batch runs)
                     |                                  |
               queue (cases, claims, KPIs) -> humans (tasks, people, org) -> storage (db, tables)

``errors`` and ``models`` are shared by all of them; ``robots`` and ``connectors`` are below
everything here, and never import it. See docs/architecture.md.

The service object is ``orchestrator.service.Orchestrator`` (also importable as
``orchestrator.Orchestrator``). One per process; thread-safe; every method is one short
transaction. It returns frozen pydantic snapshots from ``orchestrator.models``
(``model_dump(mode="json")`` for HTTP) and raises ``orchestrator.errors`` exceptions
(``PayloadInvalid.problems`` = [(field, message)], ``NotFound``, ``InvalidTransition``,
``PermissionDenied``, ``LeaseLost``; ``orchestrator.humans.tasks.AnswerInvalid.problems``).

Opening::

    orch = Orchestrator(url=None, *, project=None, retry_base_seconds=30, retry_max_seconds=3600,
                        lease_seconds=60, migrate=True, pool_size=5, clock=None)
    # url: TANDEM_DATABASE_URL or sqlite:///tandem.db; Alembic migrations run on open.
    orch.load_organisation(path=None)   # orchestrator/humans/org.yaml or TANDEM_ORG_FILE; idempotent

Cases (states queued, running, done, failed_business, failed_system, waiting_human, cancelled)::

    create_case(workflow, reference, payload, *, priority=0, deadline=None, not_before=None,
                actor="api", channel=None) -> (Case, created: bool)
    get_case(case_id) -> Case                 find_case(workflow, reference) -> Case | None
    list_cases(*, workflow, status (str | list), reference (prefix), channel, created_after,
               created_before, limit=100, offset=0) -> list[Case]      (newest first)
    count_cases(*, workflow=None) -> {status: n}
    case_timeline(case_id) -> CaseTimeline(case, transitions, runs, steps, tasks; .entries())
    cancel_case(case_id, *, actor, reason) -> Case
    retry_case(case_id, *, actor, reason="retried by hand") -> Case
    purge_personal_data(older_than: timedelta, *, now=None) -> int   (audit trail kept)
    search_cases(CaseQuery(reference, field, value, created_from, created_to, state, workflow,
                 channel), *, visible_to, limit=50, offset=0) -> (list[Case], total)
    bulk_case_action("retry" | "cancel", case_ids, *, actor, reason="") -> (done, skipped)

Robots (``orchestrator.worker.execution.run_claim`` runs one claim with an ``Engine``)::

    claim_next_case(robot_id, lease_seconds=60, *, workflows=None) -> Claim | None
    heartbeat(claim, lease_seconds) / release_case(claim, *, reason) / finish_run(claim, RunRecord)
    finish_run_and_claim_next(claim, RunRecord, *, steps, lease_seconds, workflows)
        -> (Case, Claim | None)      (one transaction on SQLite; execution.run_claim_and_claim_next)
    save_checkpoint(claim, RunState, steps=()) / record_step(claim, StepRecord) / fail_run(claim, error)
    listener(claim) -> RunListener            humans(actor="robot") -> HumanGateway
    # run.py worker = orchestrator.worker.supervisor.run_worker(WorkerSettings(robots=N, lease_seconds=...))
    register_robot(robot_id, *, host, pid) / robot_heartbeat(robot_id, *, status, case_id,
    workflow, step) / robot_stopped(robot_id) / list_robots() -> list[RobotInfo]

Human tasks (statuses open, claimed, completed, returned, cancelled; a user sees the queues
of their unit and every unit below it; reassign needs role supervisor or admin)::

    list_tasks(username, *, statuses=("open", "claimed"), queue, assignee, case_id, search, limit)
                                                  # search: the inbox's box (humans/task_search.py)
    get_task(task_id, username=None) -> HumanTask         task_events(task_id) -> list[TaskEvent]
    claim_task / release_task(task_id, username) -> HumanTask
    reassign_task(task_id, supervisor, to_username)      comment_task(task_id, username, text)
    complete_task(task_id, username, answer)     # await_human: case resumes; escalation: case done
    return_to_robot(task_id, username, answer=None, *, comment="")   # case queued again
    cancel_task(task_id, username, reason)       # the case is cancelled
    create_manual_task(username, queue, reason, *, data, form, priority, case_id)
    escalate_overdue_tasks(now=None) -> list[HumanTask]   # to the parent unit's escalation queue
    announce_postponed_tasks(now=None) -> list[HumanTask] # due again: a "task" callout to the queue
    callouts_since(after_id=0, *, username=None, limit=100) -> list[StoredCallout]
                                                  # kind "callout" (robot) or "task" (new task)

Organisation, users, tokens::

    create_unit(id, name, *, parent, escalation_queue) / list_units()
    create_queue(name, unit, *, sla_minutes, description, escalates_to) / list_queues(username=None)
    visible_units(username) -> set[str]
    create_user(username, password, *, role, unit, display_name) -> User     (argon2id hash)
    verify_password(username, password) -> User | None / set_password / set_user_active
    get_user(username) / list_users(unit=None)
    create_token(channel, workflows, *, description="") -> (ApiToken, plaintext shown once)
    verify_token(plaintext) -> ApiToken | None  (ApiToken.allows(workflow)) / revoke_token(id)

Administration (the admin screens; the actor must be an active admin of the target's units;
each change and its audit line in one transaction, never a secret in the line)::

    admin_create_user / admin_update_user / admin_set_user_active / admin_reset_password
    admin_save_unit / admin_save_queue / admin_issue_token / admin_revoke_token
    record_admin_action(actor, action, target, detail, *, roles=("admin",))   # vault, schedules
    admin_events(*, actor, action (prefix), limit, offset) -> (list[AdminEvent], total)
"""

from orchestrator.service import Orchestrator

__all__ = ["Orchestrator"]
