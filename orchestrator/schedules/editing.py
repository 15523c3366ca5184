"""Writing schedule files from the control room: a new schedule or a changed one, saved only
when it has no problem (the same checks as ``run.py schedules validate``).

A schedule stays a YAML file in the project's ``schedules/`` folder, so what the screen
saves is what a designer would have written, under version control like the rest. A new
schedule is written to ``schedules/<name>.yaml``; a changed one to the file it came from, and
it keeps its name (a new name is a new schedule). The file is replaced atomically, and the
service reads it again at once; a scheduler in another process reads it within a minute.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.schedules.loading import parse_schedule, project_workflows
from orchestrator.schedules.model import Schedule
from orchestrator.schedules.service import ScheduleService
from robots.errors import Problem

#: What the screen offers for a new schedule: every key a first schedule needs.
NEW_SCHEDULE = """\
name: my_schedule
description: What this batch does, for the people who read the dashboard.
workflow: address_change
cron: "30 2 * * 1-5"          # minute hour day month weekday (here: 02:30, Monday to Friday)
timezone: Europe/Berlin
calendar: {country: DE, weekdays_only: true}
paused: true                  # resume it on the dashboard when it is ready
misfire: {policy: run_once, grace: 4h}
source:
  file: schedules/data/address_changes.csv
  delimiter: ";"
  columns: {customer_id: Kundennummer, street: Strasse, postal_code: PLZ, city: Ort, email: E-Mail}
  key: customer_id
"""


def schedule_text(service: ScheduleService, name: str) -> str:
    """The YAML text of schedule ``name`` as its file holds it."""
    return Path(service.schedule(name).file).read_text(encoding="utf-8")


def save_schedule(
    service: ScheduleService, text: str, *, editing: str | None = None
) -> tuple[Schedule | None, list[Problem]]:
    """Check ``text`` and write it: as a new schedule, or over schedule ``editing``'s file.
    Returns the schedule and no problems, or None and every problem (nothing is written)."""
    target = None if editing is None else Path(service.schedule(editing).file)
    label = str(target) if target is not None else "new schedule"
    schedule, problems = parse_schedule(text, label, workflows=project_workflows(service.root))
    if schedule is None:
        return None, problems
    service.refresh()
    if editing is not None and schedule.name != editing:
        return None, [
            Problem(label, schedule.line, 1, f"the name must stay {editing!r}: a new name is a new schedule")
        ]
    if editing is None:
        if schedule.name in service.schedules:
            return None, [
                Problem(
                    label,
                    schedule.line,
                    1,
                    f"a schedule called {schedule.name!r} exists already",
                    "edit that one, or choose another name",
                )
            ]
        target = service.schedules_dir / f"{schedule.name}.yaml"
        if target.exists():
            return None, [
                Problem(
                    label,
                    1,
                    1,
                    f"{target.name} exists already in {service.schedules_dir}",
                    "it has problems (the schedules page lists them): fix that file",
                )
            ]
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.saving")
    scratch.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    scratch.replace(target)
    service.reload()
    return service.schedule(schedule.name), []
