"""Credential vaults: where robots' logins come from. Never from workflow files.

A vault maps an entry name (``crm_robot``) and a key (``username``, ``password``) to a
value. ``secret("crm_robot.password")`` in a workflow, or ``ctx.secret(...)`` in an action,
reads one; the value is masked everywhere from then on.

``EnvVault`` (the default) reads ``TANDEM_SECRET_CRM_ROBOT_PASSWORD``. ``EncryptedFileVault``
reads a Fernet-encrypted JSON file (``TANDEM_VAULT_FILE``, key in ``TANDEM_VAULT_KEY`` or
``TANDEM_VAULT_KEY_FILE``); create and fill one with ``python -m connectors.vault``.
``TANDEM_VAULT=hashicorp`` adds HashiCorp Vault's KV engine (``connectors.hashicorp_vault``)
after both. Other vaults (a cloud secret manager) subclass ``Vault`` and implement ``get``;
``TANDEM_VAULT_CLASS=package.module:ClassName`` makes one the default.

Hierarchy::

    SystemException (robots.errors)
     └── VaultError            a secret is missing / the vault cannot be read (never holds a secret)
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import re
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from robots.errors import SystemException

_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)?$")


class VaultError(SystemException):
    """A secret is missing or the vault cannot be read; the message never holds a secret."""


def parse_name(name: str) -> tuple[str, str]:
    """``crm_robot.password`` -> ``("crm_robot", "password")``, ``api_token`` -> ``("api_token", "")``."""
    if not _NAME.match(name):
        raise VaultError(f"secret name {name!r} is not valid: use 'entry' or 'entry.key'")
    entry, _, key = name.partition(".")
    return entry, key


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
        parse_name(name)
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


class EncryptedFileVault(Vault):
    """Secrets in one encrypted file: a JSON object ``{entry: {key: value}}`` sealed with Fernet.

    The file alone reveals nothing (AES-128-CBC + HMAC-SHA256, from ``cryptography``); the
    key lives elsewhere (an environment variable or a key file readable only by the robot's
    user). The file is read again when it changes on disk.
    """

    def __init__(self, path: Path | str, key: str | bytes) -> None:
        self.path = Path(path)
        self._key = key.encode() if isinstance(key, str) else key
        self._cache: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def generate_key() -> str:
        """A new random key (keep it apart from the file)."""
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()

    def _fernet(self) -> Any:
        from cryptography.fernet import Fernet

        try:
            return Fernet(self._key)
        except ValueError:
            raise VaultError(
                "the vault key is not a valid key (32 url-safe base64 bytes): make one with "
                "'python -m connectors.vault init'"
            ) from None

    def read_all(self) -> dict[str, Any]:
        """Every entry (decrypted); an empty vault when the file does not exist yet."""
        from cryptography.fernet import InvalidToken

        if not self.path.exists():
            return {}
        stamp = self.path.stat().st_mtime
        with self._lock:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
            try:
                plain = self._fernet().decrypt(self.path.read_bytes())
            except InvalidToken:
                raise VaultError(
                    f"cannot decrypt the vault file {self.path}: the key is not the one it was made "
                    "with, or the file is damaged"
                ) from None
            try:
                entries = json.loads(plain)
            except ValueError:
                raise VaultError(f"the vault file {self.path} does not hold a JSON object") from None
            if not isinstance(entries, dict):
                raise VaultError(f"the vault file {self.path} does not hold a JSON object")
            self._cache = (stamp, entries)
            return entries

    def get(self, name: str) -> str:
        entry, key = parse_name(name)
        value = self.read_all().get(entry)
        if key and isinstance(value, dict):
            value = value.get(key)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise VaultError(
                f"secret {name!r} is not in the vault file {self.path}: add it with "
                f"'python -m connectors.vault set {name}'"
            )
        return str(value)

    def set(self, name: str, value: str) -> None:
        """Store ``name`` (``entry`` or ``entry.key``), re-encrypting the whole file."""
        entry, key = parse_name(name)
        entries = dict(self.read_all())
        if key:
            current = entries.get(entry)
            entries[entry] = {**(current if isinstance(current, dict) else {}), key: value}
        else:
            entries[entry] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sealed = self._fernet().encrypt(json.dumps(entries, ensure_ascii=False).encode())
        scratch = self.path.with_name(self.path.name + ".tmp")
        scratch.write_bytes(sealed)
        scratch.chmod(0o600)
        scratch.replace(self.path)  # atomic: a robot reading now sees the old or the new file
        with self._lock:
            self._cache = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EncryptedFileVault:
        """The vault named by ``TANDEM_VAULT_FILE`` with ``TANDEM_VAULT_KEY`` / ``TANDEM_VAULT_KEY_FILE``."""
        env = os.environ if environ is None else environ
        path = env.get("TANDEM_VAULT_FILE")
        if not path:
            raise VaultError("no vault file configured: set TANDEM_VAULT_FILE")
        key = env.get("TANDEM_VAULT_KEY")
        if not key and env.get("TANDEM_VAULT_KEY_FILE"):
            key_file = Path(env["TANDEM_VAULT_KEY_FILE"])
            try:
                key = key_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise VaultError(f"cannot read the vault key file {key_file}: {error.strerror}") from None
        if not key:
            raise VaultError(
                f"the vault file {path} needs its key: set TANDEM_VAULT_KEY or TANDEM_VAULT_KEY_FILE"
            )
        return cls(path, key)


_defaults: dict[tuple[str, ...], Vault] = {}
_defaults_lock = threading.Lock()
# Every variable that shapes the default vault: a change builds a new one.
_CONFIG_VARIABLES = (
    "TANDEM_VAULT_CLASS",
    "TANDEM_VAULT",
    "TANDEM_VAULT_FILE",
    "TANDEM_VAULT_KEY",
    "TANDEM_VAULT_KEY_FILE",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_TOKEN_FILE",
    "VAULT_NAMESPACE",
    "VAULT_CACERT",
    "VAULT_CAPATH",
    "VAULT_SKIP_VERIFY",
    "TANDEM_VAULT_HASHICORP_MOUNT",
    "TANDEM_VAULT_HASHICORP_PATH",
    "TANDEM_VAULT_HASHICORP_KV_VERSION",
    "TANDEM_VAULT_HASHICORP_CACHE_SECONDS",
    "TANDEM_VAULT_HASHICORP_TIMEOUT",
)
# The optional backends, by their TANDEM_VAULT name: loaded by name like TANDEM_VAULT_CLASS, so
# that this module (which they build on) does not import them back.
_BACKENDS: dict[str, str | None] = {"env": None, "hashicorp": "connectors.hashicorp_vault:HashiCorpVault"}


def default_vault() -> Vault:
    """The vault robots use: environment variables, then the encrypted file when configured.

    ``TANDEM_VAULT=hashicorp`` asks HashiCorp Vault after those (``connectors.hashicorp_vault``),
    so an environment variable still wins. ``TANDEM_VAULT_CLASS=package.module:ClassName``
    replaces them all with another ``Vault``, built without arguments.
    """
    config = tuple(os.environ.get(name, "") for name in _CONFIG_VARIABLES)
    with _defaults_lock:
        vault = _defaults.get(config)
        if vault is None:
            vault = _defaults[config] = _make_default(dict(zip(_CONFIG_VARIABLES, config, strict=True)))
        return vault


def _make_default(config: Mapping[str, str]) -> Vault:
    class_path = config["TANDEM_VAULT_CLASS"]
    if class_path:
        module_name, _, class_name = class_path.partition(":")
        try:
            vault_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise VaultError(
                f"TANDEM_VAULT_CLASS={class_path!r} cannot be loaded ({error}): "
                "give it as package.module:ClassName"
            ) from None
        if not (isinstance(vault_class, type) and issubclass(vault_class, Vault)):
            raise VaultError(f"TANDEM_VAULT_CLASS={class_path!r} is not a subclass of connectors.vault.Vault")
        vault: Vault = vault_class()
        return vault
    backend = config["TANDEM_VAULT"].strip().lower() or "env"
    if backend not in _BACKENDS:
        raise VaultError(
            f"TANDEM_VAULT={config['TANDEM_VAULT']!r} is not a vault: use {' or '.join(_BACKENDS)}"
        )
    vaults: list[Vault] = [EnvVault()]
    if config["TANDEM_VAULT_FILE"]:
        vaults.append(EncryptedFileVault.from_env())
    extra = _BACKENDS[backend]
    if extra is not None:
        module_name, _, class_name = extra.partition(":")
        vaults.append(getattr(importlib.import_module(module_name), class_name)())
    return ChainVault(*vaults) if len(vaults) > 1 else vaults[0]


def main(argv: list[str] | None = None) -> int:
    """``python -m connectors.vault init|set NAME|list``: make and fill the encrypted vault file."""
    parser = argparse.ArgumentParser(
        prog="python -m connectors.vault",
        description="The encrypted vault file (TANDEM_VAULT_FILE, key in TANDEM_VAULT_KEY[_FILE]).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="print a new key (store it apart from the file)")
    setter = commands.add_parser("set", help="store a secret; the value is read from stdin or a prompt")
    setter.add_argument("name", help="entry.key, e.g. crm_robot.password")
    commands.add_parser("list", help="list the names in the vault (never the values)")
    args = parser.parse_args(argv)
    if args.command == "init":
        print(EncryptedFileVault.generate_key())
        return 0
    try:
        vault = EncryptedFileVault.from_env()
        if args.command == "list":
            for entry, value in sorted(vault.read_all().items()):
                keys = sorted(value) if isinstance(value, dict) else []
                print("\n".join(f"{entry}.{key}" for key in keys) if keys else entry)
            return 0
        value = getpass.getpass(f"{args.name}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        vault.set(args.name, value)
    except VaultError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"stored {args.name} in {vault.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
