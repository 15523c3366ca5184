"""The action library: one module per namespace, each action one typed function.

``@action("web.fill")`` (``robots.language.registry``) registers a function with its
parameter model; the registry imports every module here by name on first use. Adding an
action is one function in one of these modules (or a new module), with no engine change.

May import: ``robots.errors``, ``robots.masking``, ``robots.language``, ``robots.drivers``
and ``connectors`` (mail, vaults). Never the engine or the orchestrator.
"""
