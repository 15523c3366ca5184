"""The workflow language: what a workflow, a rule table and a project are, as data.

Owns: the YAML source reader with line and column (``yamlsource``), the immutable model
(``model``: the workflow; ``steps``: its kinds of step; ``model_values``: durations,
priorities, the frozen base) and its loader with located, fix-it errors (``loader``, and
``workflow_checks`` for what needs the whole workflow), sandboxed expressions
(``expressions``), input schemas (``inputs``), business rules (``rules``), decision tables
(``decision_tables``, read by ``table_parser``) and their explanations (``explain``), the
action registry the actions fill (``registry``), the JSON Schema (``schema``), the
generated action reference (``docs``), a project's folders (``project``), where a command
finds its project and data folder (``project_paths``), and ``run.py init`` with its
template (``project_init``, ``project_template/``).

May import: ``robots.errors``, ``robots.masking``. Nothing here runs a step.
"""
