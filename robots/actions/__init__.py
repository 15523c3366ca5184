"""The action library: a module per namespace (or per area of a large one), each action one typed function.

The ``web`` namespace is split by area: ``web_navigation`` (where the
steps work), ``web_input`` (acting on elements), ``web_reading`` (waiting, checking,
reading) and ``web_page`` (the page as a whole), with ``web_elements`` finding their
elements and explaining a miss.

``@action("web.fill")`` (``robots.language.registry``) registers a function with its
parameter model; the registry imports every module here by name on first use. Adding an
action is one function in one of these modules (or a new module), with no engine change.

May import: ``robots.errors``, ``robots.masking``, ``robots.language``, ``robots.drivers``
and ``connectors`` (mail, vaults). Never the engine or the orchestrator.
"""
