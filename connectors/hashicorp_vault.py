"""Secrets from HashiCorp Vault's KV secrets engine, read over its HTTP API.

A Tandem name ``crm_robot.password`` is the key ``password`` of the KV entry
``<TANDEM_VAULT_HASHICORP_PATH>/crm_robot`` (``tandem/crm_robot``) in the KV mount
``TANDEM_VAULT_HASHICORP_MOUNT`` (``secret``); a name without a key (``api_token``) reads the
key ``value``. With KV version 2 (the default) that is ``GET {VAULT_ADDR}/v1/secret/data/tandem/crm_robot``;
an admin stores it with ``vault kv put secret/tandem/crm_robot username=... password=...`` and
the robots' token needs a policy with ``read`` on ``secret/data/tandem/*``.

Configured like the ``vault`` command line: ``VAULT_ADDR``, ``VAULT_TOKEN`` (or
``VAULT_TOKEN_FILE``, read again on every request so a Vault Agent can renew it),
``VAULT_NAMESPACE``, ``VAULT_CACERT`` / ``VAULT_CAPATH`` and ``VAULT_SKIP_VERIFY``. TLS
certificates are verified unless ``VAULT_SKIP_VERIFY`` says otherwise.

An entry is kept in memory for ``TANDEM_VAULT_HASHICORP_CACHE_SECONDS`` (5) so the steps of a
case read Vault once, not once per secret; a rotated password is seen after that. Errors are
``VaultError`` naming the entry, the Vault path and the fix; they never hold the token or a
secret value.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connectors.vault import Vault, VaultError, parse_name

_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


@dataclass(frozen=True, kw_only=True)
class HashiCorpSettings:
    """Where the Vault server is and how to talk to it; ``from_environ`` reads the variables."""

    address: str
    """``VAULT_ADDR``: the server's URL, e.g. ``https://vault.example.com:8200``."""
    token: str = field(default="", repr=False)
    """``VAULT_TOKEN``: the robots' token (never shown in a repr or a message)."""
    token_file: Path | None = None
    """``VAULT_TOKEN_FILE``: a file holding the token, read on every request (Vault Agent's sink)."""
    namespace: str = ""
    """``VAULT_NAMESPACE``: the Vault Enterprise namespace, sent as ``X-Vault-Namespace``."""
    mount: str = "secret"
    """``TANDEM_VAULT_HASHICORP_MOUNT``: where the KV secrets engine is mounted."""
    path: str = "tandem"
    """``TANDEM_VAULT_HASHICORP_PATH``: the folder in the mount that holds the robots' entries."""
    kv_version: int = 2
    """``TANDEM_VAULT_HASHICORP_KV_VERSION``: 2 (versioned, the default) or 1."""
    verify: bool | str = True
    """TLS: ``True`` (system CAs), ``False`` (``VAULT_SKIP_VERIFY``) or a CA file or folder."""
    cache_seconds: float = 5.0
    """``TANDEM_VAULT_HASHICORP_CACHE_SECONDS``: how long an entry read is reused (0: never)."""
    timeout: float = 10.0
    """``TANDEM_VAULT_HASHICORP_TIMEOUT``: seconds to wait for Vault's answer."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HashiCorpSettings:
        """The settings from ``VAULT_*`` and ``TANDEM_VAULT_HASHICORP_*``; ``VaultError`` says what to fix."""
        env = os.environ if environ is None else environ
        address = env.get("VAULT_ADDR", "").strip().rstrip("/")
        if not address.startswith(("http://", "https://")):
            raise VaultError(
                "HashiCorp Vault needs its address: set VAULT_ADDR to its URL, e.g. https://vault.example.com:8200"
                + (f" (it is {address!r})" if address else "")
            )
        token, token_file = env.get("VAULT_TOKEN", "").strip(), env.get("VAULT_TOKEN_FILE", "").strip()
        if not token and not token_file:
            raise VaultError("HashiCorp Vault needs a token: set VAULT_TOKEN or VAULT_TOKEN_FILE")
        skip = env.get("VAULT_SKIP_VERIFY", "").strip().lower()
        if skip and skip not in _TRUE | _FALSE:
            raise VaultError(f"VAULT_SKIP_VERIFY={skip!r} is not a boolean: use true or false")
        ca = env.get("VAULT_CACERT", "").strip() or env.get("VAULT_CAPATH", "").strip()
        verify: bool | str = False if skip in _TRUE else ca or True
        kv_version = _number(env, "TANDEM_VAULT_HASHICORP_KV_VERSION", 2)
        if kv_version not in (1, 2):
            raise VaultError(
                f"TANDEM_VAULT_HASHICORP_KV_VERSION={kv_version:g} is not a KV version: use 2 or 1"
            )
        return cls(
            address=address,
            token=token,
            token_file=Path(token_file) if token_file else None,
            namespace=env.get("VAULT_NAMESPACE", "").strip(),
            mount=env.get("TANDEM_VAULT_HASHICORP_MOUNT", "secret").strip("/ ") or "secret",
            path=env.get("TANDEM_VAULT_HASHICORP_PATH", "tandem").strip("/ "),
            kv_version=int(kv_version),
            verify=verify,
            cache_seconds=_number(env, "TANDEM_VAULT_HASHICORP_CACHE_SECONDS", 5.0),
            timeout=_number(env, "TANDEM_VAULT_HASHICORP_TIMEOUT", 10.0),
        )


def _number(env: Mapping[str, str], variable: str, default: float) -> float:
    text = env.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise VaultError(f"{variable}={text!r} is not a number of 0 or more")
    return value


class HashiCorpVault(Vault):
    """Secrets from HashiCorp Vault's KV engine (v2, or v1); built without arguments from the environment."""

    def __init__(
        self, settings: HashiCorpSettings | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or HashiCorpSettings.from_environ()
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(verify=self._tls(), timeout=self.settings.timeout)

    def close(self) -> None:
        """Close the connections to Vault."""
        self._client.close()

    def __repr__(self) -> str:
        return f"HashiCorpVault({self.settings.address}, {self.settings.mount}/{self.settings.path})"

    def _tls(self) -> bool | ssl.SSLContext:
        verify = self.settings.verify
        if isinstance(verify, bool):
            return verify
        try:
            if Path(verify).is_dir():
                return ssl.create_default_context(capath=verify)
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or "not a PEM certificate"
            raise VaultError(
                f"cannot read the CA certificate {verify} for HashiCorp Vault ({reason}): "
                "set VAULT_CACERT to the PEM file of the CA that signed Vault's certificate"
            ) from None

    def location(self, entry: str) -> str:
        """The entry's path as the ``vault kv`` commands write it: ``secret/tandem/crm_robot``."""
        return "/".join(part for part in (self.settings.mount, self.settings.path, entry) if part)

    def api_path(self, entry: str) -> str:
        """The entry's path in the HTTP API (and in policies): ``secret/data/tandem/crm_robot`` for KV v2."""
        inner = "/".join(part for part in (self.settings.path, entry) if part)
        data = "/data" if self.settings.kv_version == 2 else ""
        return f"{self.settings.mount}{data}/{inner}"

    def policy_path(self) -> str:
        """What the robots' token must be allowed to read: ``secret/data/tandem/*``."""
        return self.api_path("*")

    def get(self, name: str) -> str:
        entry, key = parse_name(name)
        key = key or "value"
        values = self.read_entry(entry, name)
        if key not in values:
            keys = ", ".join(sorted(values)) or "none"  # the names only, never a value
            raise VaultError(
                f"secret {name!r}: the entry {self.location(entry)} in HashiCorp Vault at "
                f"{self.settings.address} has no key {key!r} (its keys: {keys}): "
                f"add it with '{self._add_command(entry, key, values)}'"
            )
        value = values[key]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise VaultError(
                f"secret {name!r}: the key {key!r} of {self.location(entry)} in HashiCorp Vault is not text"
            )
        return str(value)

    def read_entry(self, entry: str, name: str | None = None) -> dict[str, Any]:
        """All keys of one entry, from the cache when read less than ``cache_seconds`` ago."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(entry)
            if cached is not None and now - cached[0] < self.settings.cache_seconds:
                return dict(cached[1])
        values = self._fetch(entry, name or entry)
        if self.settings.cache_seconds > 0:
            with self._lock:
                self._cache[entry] = (now, values)
        return values

    def _add_command(self, entry: str, key: str, values: Mapping[str, Any]) -> str:
        if self.settings.kv_version == 2:
            return f"vault kv patch {self.location(entry)} {key}=..."
        others = "".join(f"{other}=... " for other in sorted(values))  # KV v1 put replaces the entry
        return f"vault kv put {self.location(entry)} {others}{key}=..."

    def _token(self) -> str:
        token = self.settings.token
        if not token and self.settings.token_file is not None:
            try:
                token = self.settings.token_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise VaultError(
                    f"cannot read the HashiCorp Vault token file {self.settings.token_file} "
                    f"(VAULT_TOKEN_FILE): {error.strerror}"
                ) from None
            if not token:
                raise VaultError(
                    f"the HashiCorp Vault token file {self.settings.token_file} (VAULT_TOKEN_FILE) is empty"
                )
        return token

    def _fetch(self, entry: str, name: str) -> dict[str, Any]:
        token = self._token()
        address, api_path = self.settings.address, self.api_path(entry)
        headers = {"X-Vault-Token": token, "X-Vault-Request": "true"}
        if self.settings.namespace:
            headers["X-Vault-Namespace"] = self.settings.namespace
        try:
            response = self._client.get(f"{address}/v1/{api_path}", headers=headers)
        except httpx.TimeoutException:
            raise VaultError(
                f"HashiCorp Vault at {address} did not answer within {self.settings.timeout:g} s reading "
                f"secret {name!r} from {api_path}: check VAULT_ADDR and the network "
                "(or raise TANDEM_VAULT_HASHICORP_TIMEOUT)"
            ) from None
        except httpx.TransportError as error:
            if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(error)):
                raise VaultError(
                    f"cannot verify the TLS certificate of HashiCorp Vault at {address} reading secret "
                    f"{name!r}: set VAULT_CACERT to the PEM file of the CA that signed it "
                    "(VAULT_SKIP_VERIFY=true only for a test server)"
                ) from None
            raise VaultError(
                f"cannot reach HashiCorp Vault at {address} to read secret {name!r} "
                f"({_reason(error)}): check VAULT_ADDR and that Vault is running"
            ) from None
        body = _json(response)
        status = response.status_code
        if status == 200:
            values = _secret_data(body, self.settings.kv_version)
            if values is None:
                raise VaultError(
                    f"HashiCorp Vault at {address} answered {api_path} with no KV secret: check that "
                    f"'{self.settings.mount}/' is a KV version {self.settings.kv_version} mount "
                    "('vault secrets list -detailed') and set TANDEM_VAULT_HASHICORP_KV_VERSION"
                )
            return values
        errors = " ".join(str(text) for text in body.get("errors") or [])
        if status == 403:
            raise VaultError(
                f"HashiCorp Vault at {address} denied reading secret {name!r} from {api_path} "
                "(403 permission denied): the token is invalid or expired, or none of its policies grants "
                f'read on {self.policy_path()} (path "{self.policy_path()}" {{ capabilities = ["read"] }})'
            )
        if status == 404 and "no handler for route" in errors:
            raise VaultError(
                f"HashiCorp Vault at {address} has no secrets engine at '{self.settings.mount}/' (reading "
                f"secret {name!r} from {api_path}): set TANDEM_VAULT_HASHICORP_MOUNT to the KV mount "
                "('vault secrets list')"
            )
        if status == 404:
            data = body.get("data")
            metadata = data.get("metadata") if isinstance(data, dict) else None  # KV v2: a deleted version
            if isinstance(metadata, dict) and (metadata.get("deletion_time") or metadata.get("destroyed")):
                restore = (
                    ""
                    if metadata.get("destroyed")
                    else f"restore it with 'vault kv undelete -versions={metadata.get('version')} "
                    f"{self.location(entry)}' or "
                )
                raise VaultError(
                    f"secret {name!r}: the latest version of {self.location(entry)} in HashiCorp Vault at "
                    f"{address} is deleted: {restore}store it again with "
                    f"'vault kv put {self.location(entry)} ...'"
                )
            key = name.partition(".")[2] or "value"
            raise VaultError(
                f"secret {name!r} is not in HashiCorp Vault at {address} (nothing at {api_path}): "
                f"add it with 'vault kv put {self.location(entry)} {key}=...'"
            )
        if status == 503:
            raise VaultError(
                f"HashiCorp Vault at {address} is sealed or not ready (503) reading secret {name!r} from "
                f"{api_path}: an operator unseals it ('vault operator unseal'), or point VAULT_ADDR at an "
                "active node"
            )
        detail = f": {errors.replace(token, '***')}" if errors else ""  # Vault's own words, never the token
        raise VaultError(
            f"HashiCorp Vault at {address} answered {status} reading secret {name!r} from {api_path}{detail}"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secret_data(body: Mapping[str, Any], kv_version: int) -> dict[str, Any] | None:
    """The key/value pairs of a KV read: ``data.data`` for v2, ``data`` for v1."""
    data = body.get("data")
    if kv_version == 2:
        data = data.get("data") if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


def _causes(error: BaseException) -> list[BaseException]:
    """The error and those it was raised from (httpx wraps httpcore, which wraps the socket's)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _reason(error: httpx.TransportError) -> str:
    """``connection refused``, ``name or service not known``...: the socket's words, or the error's kind."""
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    return type(error).__name__
