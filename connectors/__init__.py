"""Connectors: the bridges to outside systems.

Inbound: channel payloads of the IVR and webforms mapped to cases (``channels``). Outbound:
mail over SMTP (``smtp``) and a local SMTP sink for tests and the demo (``mail_sink``).
Credentials: the vault interface with its environment and encrypted-file backends
(``vault``) and HashiCorp Vault (``hashicorp_vault``, loaded by name when configured).
Shared: ``net`` (a free local port).

May import: ``robots.errors`` only. Robots and the orchestrator use connectors, never the
other way round.
"""
