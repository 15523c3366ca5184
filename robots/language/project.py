"""A Tandem project: its workflows and business rules, found by name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from robots.errors import DefinitionError, Problem, quoted
from robots.language.effects import unchecked_changes
from robots.language.expressions import has_env_ref, is_template
from robots.language.inputs import value_problem
from robots.language.loader import load_workflow
from robots.language.model import Workflow
from robots.language.model_values import Location
from robots.language.registry import suggest
from robots.language.steps import CallStep, DecideStep, walk
from robots.language.yamlsource import load_yaml_file

_FIX_IT = "fix it first ('run.py validate' lists all of its problems)"

if TYPE_CHECKING:
    from robots.language.rules import RuleBook


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


class Project:
    """The folders a robot reads: ``workflows/`` and ``business_rules/`` under ``root``."""

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        workflows_dir: Path | str | None = None,
        rules_dir: Path | str | None = None,
    ) -> None:
        self.root = Path(root or os.environ.get("TANDEM_HOME") or Path.cwd())
        self.workflows_dir = Path(workflows_dir) if workflows_dir else self.root / "workflows"
        self.rules_dir = Path(rules_dir) if rules_dir else self.root / "business_rules"
        self._workflows: dict[Path, tuple[float, Workflow]] = {}
        self._index: tuple[tuple[tuple[Path, int, int], ...], dict[str, Path]] | None = None

    @cached_property
    def rules(self) -> RuleBook:
        """The decision tables and Python decisions of ``business_rules/``."""
        from robots.language.rules import RuleBook

        return RuleBook(self.rules_dir)

    def workflow_files(self) -> dict[str, Path]:
        """Workflow name -> file, for every YAML file under ``workflows/``.

        Kept until a file is added, removed or changed: a robot resolves its workflow by
        name for every case, and parsing every file of the folder each time cost more than
        the rest of the engine's work on a case (see docs/benchmarks.md).
        """
        files = _yaml_files(self.workflows_dir)
        signature = tuple(
            (path, path.stat().st_mtime_ns, path.stat().st_size) for path in files if path.exists()
        )
        if self._index is not None and self._index[0] == signature:
            return dict(self._index[1])
        index: dict[str, Path] = {}
        for path in files:
            data, _, _ = load_yaml_file(path)
            name = data.get("name") if isinstance(data, dict) else None
            index.setdefault(str(name) if name else path.stem, path)
        self._index = (signature, index)
        return dict(index)

    def load(self, path: Path) -> Workflow:
        """Load a workflow file (cached until the file changes)."""
        path = path.resolve()
        mtime = path.stat().st_mtime if path.exists() else 0.0
        cached = self._workflows.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        workflow = load_workflow(path)
        self._workflows[path] = (mtime, workflow)
        return workflow

    def workflow(self, name_or_path: str | Path) -> Workflow:
        """A workflow by name (``address_change``) or by file path."""
        candidate = Path(name_or_path)
        if candidate.suffix in (".yaml", ".yml") or candidate.exists():
            if not candidate.exists():
                raise DefinitionError(
                    [Problem(str(candidate), 1, 1, "no such workflow file", "check the path")]
                )
            return self.load(candidate)
        files = self.workflow_files()
        if str(name_or_path) not in files:
            hint = (
                suggest(str(name_or_path), set(files)) or f"workflows: {', '.join(sorted(files)) or 'none'}"
            )
            raise DefinitionError(
                [
                    Problem(
                        str(self.workflows_dir),
                        1,
                        1,
                        f"no workflow named {str(name_or_path)!r}",
                        hint,
                    )
                ]
            )
        return self.load(files[str(name_or_path)])

    def check_references(self, workflow: Workflow) -> list[Problem]:
        """Problems with what a workflow refers to: rule tables, sub-workflows, call cycles."""
        problems: list[Problem] = []
        files = self.workflow_files()
        rules = self.rules
        steps = walk(workflow.steps) + walk(workflow.on_error)

        def at(where: object, message: str, hint: str) -> Problem:
            """A problem at a step's or a value's ``Location``."""
            location = where if isinstance(where, Location) else getattr(where, "location", None)
            line, column = (location.line, location.column) if location else (1, 1)
            return Problem(workflow.file, line, column, message, hint)

        for step in steps:
            if isinstance(step, DecideStep):
                if broken := rules.problems_of(step.decide):
                    message = f"rule table {step.decide!r} does not load: {broken[0]}"
                    problems.append(at(step, message, _FIX_IT))
                elif not rules.has(step.decide):
                    hint = (
                        suggest(step.decide, set(rules.names()))
                        or f"decision tables live in {self.rules_dir}"
                    )
                    problems.append(at(step, f"unknown rule table {step.decide!r}", hint))
            if isinstance(step, CallStep):
                if step.call not in files:
                    hint = suggest(step.call, set(files)) or f"workflows live in {self.workflows_dir}"
                    message = f"call target {step.call!r} is not a workflow of this project"
                    problems.append(at(step, message, hint))
                elif isinstance(called := self._load_or_why(files[step.call]), str):
                    problems.append(at(step, f"call target {step.call!r} does not load: {called}", _FIX_IT))
                else:
                    problems += [at(step, m, h) for m, h in _input_problems(step, called)]
        for name, spec in workflow.systems.items():
            where = spec.login_location
            if spec.login and spec.login not in files:
                hint = suggest(spec.login, set(files)) or "name a workflow that logs in"
                message = f"system {name!r}: login workflow {spec.login!r} not found"
                problems.append(at(where, message, hint))
            elif spec.login and isinstance(why := self._load_or_why(files[spec.login]), str):
                message = f"system {name!r}: login workflow {spec.login!r} does not load: {why}"
                problems.append(at(where, message, _FIX_IT))
        problems += self._cycles(workflow, files)
        return problems

    def _load_or_why(self, path: Path) -> Workflow | str:
        """The workflow file at ``path`` loaded, or why it does not load (its first problem)."""
        try:
            return self.load(path)
        except DefinitionError as error:
            return str(error.problems[0]) if error.problems else str(error)

    def _cycles(self, workflow: Workflow, files: dict[str, Path]) -> list[Problem]:
        problems: list[Problem] = []

        def calls_of(flow: Workflow) -> list[CallStep]:
            return [s for s in walk(flow.steps) + walk(flow.on_error) if isinstance(s, CallStep)]

        def visit(flow: Workflow, chain: list[str]) -> None:
            for step in calls_of(flow):
                if step.call in chain:
                    loop = " -> ".join([*chain[chain.index(step.call) :], step.call])
                    location = step.location
                    problems.append(
                        Problem(
                            flow.file,
                            location.line if location else 1,
                            location.column if location else 1,
                            f"call cycle: {loop}",
                            "a workflow cannot call itself, directly or through others",
                        )
                    )
                    continue
                if step.call in files:
                    try:
                        visit(self.load(files[step.call]), [*chain, step.call])
                    except DefinitionError:
                        continue  # reported when that file is validated
            return None

        visit(workflow, [workflow.name])
        return [p for p in problems if p.file == workflow.file] or problems[:1]

    def validate(self, paths: list[Path] | None = None) -> list[Problem]:
        """Every problem in the given files (default: all workflows and all rule tables)."""
        problems: list[Problem] = []
        targets: list[Path] = []
        check_rules = not paths
        # Only workflows/ is required: a project without business_rules/ has no rule tables.
        default = [self.workflows_dir, *([self.rules_dir] if self.rules_dir.is_dir() else [])]
        for path in paths or default:
            if path.is_dir():
                if path.resolve() == self.rules_dir.resolve():
                    check_rules = True
                else:
                    targets += _yaml_files(path)
            elif path.exists():
                if path.resolve().is_relative_to(self.rules_dir.resolve()):
                    check_rules = True
                else:
                    targets.append(path)
            else:
                problems.append(Problem(str(path), 1, 1, "no such file or directory", "check the path"))
        for path in targets:
            try:
                workflow = self.load(path)
            except DefinitionError as error:
                problems += error.problems
                if isinstance(error.partial, Workflow):  # its readable steps' references too
                    problems += self.check_references(error.partial)
                continue
            problems += self.check_references(workflow)
        if check_rules:
            problems += self.rules.problems()
        return sorted(problems, key=lambda p: (p.file, p.line, p.column))

    def warnings(self, paths: list[Path] | None = None) -> list[Problem]:
        """What may go wrong without being an error (for ``run.py validate``): changes that an
        ``in`` block run again may make twice (``robots.language.effects``). Files that do not load
        give none: their problems come from ``validate``."""
        targets: list[Path] = []
        for path in paths or [self.workflows_dir]:
            if path.is_dir() and path.resolve() != self.rules_dir.resolve():
                targets += _yaml_files(path)
            elif path.is_file() and not path.resolve().is_relative_to(self.rules_dir.resolve()):
                targets.append(path)
        files = self.workflow_files()

        def called(name: str) -> Workflow | None:
            try:
                return self.load(files[name]) if name in files else None
            except DefinitionError:
                return None

        found: list[Problem] = []
        for path in targets:
            try:
                workflow = self.load(path)
            except DefinitionError:
                continue
            found += unchecked_changes(workflow, called)
        return sorted(found, key=lambda p: (p.file, p.line, p.column))


def _input_problems(step: CallStep, called: Workflow) -> Iterator[tuple[str, str]]:
    """What a call's ``with`` gets wrong about the called workflow's declared ``input``: names
    it does not have, fields it needs, and values written as they are (no expression) that do
    not fit. Nothing for a workflow without an input schema (any field may come)."""
    if not called.input:
        return
    where = f"call {called.name!r}"
    for name, value in step.with_.items():
        spec = called.input.get(str(name))
        if spec is None:
            hint = suggest(str(name), set(called.input)) or f"its inputs: {', '.join(called.input)}"
            yield f"{where}: {called.name} has no input {str(name)!r}", hint
        elif not (is_template(value) or has_env_ref(value)) and (wrong := value_problem(spec, value)):
            yield f"{where}: input {str(name)!r} {quoted(value)}: {wrong}", "give a value of its type"
    for name, spec in called.input.items():
        if name not in step.with_ and spec.required and spec.default is None:
            yield f"{where}: input {name!r} is required", f"add {name}: ... under 'with:'"
