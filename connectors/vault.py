"""Credential vaults: where robots' logins come from. Never from workflow files.

A vault maps an entry name (``crm_robot``) and a key (``username``, ``password``) to a
value. ``secret("crm_robot.password")`` in a workflow, or ``ctx.secret(...)`` in an action,
reads one; the value is masked everywhere from then on.

``EnvVault`` (the default) reads ``TANDEM_SECRET_CRM_ROBOT_PASSWORD``; other vaults (an
encrypted file, HashiCorp Vault) implement the same two methods.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping

from robots.errors import SystemException

_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)?$")


class VaultError(SystemException):
    """A secret is missing or the vault cannot be read; the message never holds a secret."""


class Vault(ABC):
    """Where secrets live. ``get('entry.key')`` or ``get('entry')`` for a single value."""

    @abstractmethod
    def get(self, name: str) -> str:
        """The secret ``name``; ``VaultError`` saying how to provide it when missing."""

    def entry(self, name: str, keys: tuple[str, ...] = ("username", "password")) -> dict[str, str]:
        """Several keys of one entry, e.g. a login."""
        return {key: self.get(f"{name}.{key}") for key in keys}


class EnvVault(Vault):
    """Secrets from environment variables: ``crm_robot.password`` -> ``TANDEM_SECRET_CRM_ROBOT_PASSWORD``."""

    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = "TANDEM_SECRET_") -> None:
        self._environ = os.environ if environ is None else environ
        self._prefix = prefix

    def variable(self, name: str) -> str:
        """The environment variable that holds ``name``."""
        return self._prefix + re.sub(r"[^A-Za-z0-9]", "_", name).upper()

    def get(self, name: str) -> str:
        if not _NAME.match(name):
            raise VaultError(f"secret name {name!r} is not valid: use 'entry' or 'entry.key'")
        variable = self.variable(name)
        if variable not in self._environ:
            raise VaultError(f"secret {name!r} is not set: set the environment variable {variable}")
        return self._environ[variable]


class ChainVault(Vault):
    """Asks several vaults in order; the first that has the secret answers."""

    def __init__(self, *vaults: Vault) -> None:
        self.vaults = vaults

    def get(self, name: str) -> str:
        errors = []
        for vault in self.vaults:
            try:
                return vault.get(name)
            except VaultError as error:
                errors.append(error.message)
        raise VaultError("; ".join(errors) or f"secret {name!r} is not set")


def default_vault() -> Vault:
    """The vault used when none is configured: environment variables."""
    return EnvVault()
