"""Humans: the people half of the tandem.

Owns: human tasks, their life cycle, answers, comments and which cases a user sees (``tasks``);
moving a task one level up, by its SLA or by hand (``escalation``); the stored callouts and a
task's callout (``callout_store``); how a person ends a task and what the customer is told, with
the outcome's mail (``outcomes``); what each role may do to a task and a case (``roles``); the
organisation (units, queues), users with their roles and passwords, and channel tokens
(``people``, default organisation in ``org.yaml``); the same changed by an admin, with the admin
audit log (``administration``); each user's notification tray, read or unread
(``notifications``); which tasks the inbox's search box finds (``task_search``); the customer's
signed status link of a case, for the status page and the customer's mails (``customer_links``).

May import: ``orchestrator.storage``, ``orchestrator.errors``, ``orchestrator.models``,
``robots`` and ``connectors`` (the outcome's mail goes out over ``connectors.smtp``).
"""
