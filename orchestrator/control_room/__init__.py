"""The control room: everything served over HTTP.

Owns: the FastAPI app and its settings (``app``), the channel API for IVRs and webforms
(``api``) with its tokens and rate limits (``api_access``) and metrics (``api_metrics``),
the public webform and its status page
(``webform``), the callout hub that streams callouts and task arrivals to browsers
(``callouts``), and the pages for agents, supervisors and ops with the agents' JSON API
(``pages/``); templates and static files beside them.

May import: ``orchestrator.service``, ``orchestrator.queue``, ``orchestrator.humans``,
``orchestrator.schedules``, ``orchestrator.errors``, ``orchestrator.models``, ``robots`` and
``connectors``; never ``orchestrator.storage``: queries belong to the services.
"""
