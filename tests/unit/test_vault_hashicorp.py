"""HashiCorp Vault: reading KV entries over HTTP, the cache, and errors that say what to fix.

The real ``vault`` binary is not available where these tests run, so a small HTTP server on
loopback answers the read API as Vault documents it (KV v2 ``GET /v1/{mount}/data/{path}``
with ``{"data": {"data": ..., "metadata": ...}}``, KV v1 ``GET /v1/{mount}/{path}``,
``X-Vault-Token`` checked, 403 ``permission denied``, 404, 503 when sealed). The client goes
through real sockets, HTTP and TLS.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from connectors.hashicorp_vault import HashiCorpSettings, HashiCorpVault
from connectors.vault import ChainVault, VaultError, default_vault
from tests.unit.test_vault import assert_masked_in_a_run

TOKEN = "hvs.robot-token-9f8e7d6c5b4a"
PASSWORD = "crm-Pässwort-42"


class FakeVault:
    """Vault's KV read API on loopback: mounts ``secret`` (KV v2) and ``kv1`` (KV v1)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.entries: dict[str, dict[str, Any]] = {}  # "secret/tandem/crm_robot" -> key/value pairs
        self.deleted: set[str] = set()
        self.sealed = False
        self.delay = 0.0
        self.answer: tuple[int, dict[str, Any]] | None = None  # answer every request with this
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.address = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reads(self) -> list[str]:
        return [path for path, _ in self.requests]

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, headers))
        if self.sealed:
            return 503, {"errors": ["Vault is sealed"]}
        if headers.get("x-vault-token") != TOKEN:
            return 403, {"errors": ["permission denied"]}
        if self.answer is not None:
            return self.answer
        mount, _, rest = path.removeprefix("/v1/").partition("/")
        if mount == "secret" and rest.startswith("data/"):
            entry = f"secret/{rest.removeprefix('data/')}"
            metadata = {"created_time": "2026-01-05T10:00:00Z", "destroyed": False, "version": 3}
            if entry in self.deleted:
                metadata["deletion_time"] = "2026-01-06T10:00:00Z"
                return 404, {"errors": [], "data": {"data": None, "metadata": metadata}}
            if entry in self.entries:
                return 200, {"data": {"data": self.entries[entry], "metadata": metadata}}
            return 404, {"errors": []}
        if mount == "kv1":
            entry = f"kv1/{rest}"
            return (200, {"data": self.entries[entry]}) if entry in self.entries else (404, {"errors": []})
        return 404, {"errors": [f'no handler for route "{mount}/{rest}". route entry not found.']}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(vault.delay)
                status, body = vault.respond(self.path, {k.lower(): v for k, v in self.headers.items()})
                payload = json.dumps(body).encode()
                with contextlib.suppress(ConnectionError):  # a client that timed out has gone
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class Clock:
    """A monotonic clock the test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeVault]:
    vault = FakeVault()
    vault.entries["secret/tandem/crm_robot"] = {"username": "robot.crm", "password": PASSWORD}
    yield vault
    vault.stop()


def settings(address: str, **env: str) -> HashiCorpSettings:
    return HashiCorpSettings.from_environ({"VAULT_ADDR": address, "VAULT_TOKEN": TOKEN, **env})


def failure(vault: HashiCorpVault, name: str) -> str:
    with pytest.raises(VaultError) as error:
        vault.get(name)
    assert TOKEN not in error.value.message and PASSWORD not in error.value.message
    return error.value.message


def test_reads_a_login_from_kv_v2_with_the_token_and_namespace(server: FakeVault) -> None:
    vault = HashiCorpVault(settings(server.address, VAULT_NAMESPACE="team-a"))
    assert vault.entry("crm_robot") == {"username": "robot.crm", "password": PASSWORD}
    path, headers = server.requests[0]
    assert path == "/v1/secret/data/tandem/crm_robot"
    assert headers["x-vault-token"] == TOKEN and headers["x-vault-namespace"] == "team-a"


def test_mount_path_and_kv_v1_are_configurable(server: FakeVault) -> None:
    server.entries["kv1/robots/prod/api"] = {"value": "tok-123"}
    vault = HashiCorpVault(
        settings(
            server.address,
            TANDEM_VAULT_HASHICORP_MOUNT="kv1",
            TANDEM_VAULT_HASHICORP_PATH="robots/prod",
            TANDEM_VAULT_HASHICORP_KV_VERSION="1",
        )
    )
    assert vault.get("api") == "tok-123"  # a name without a key reads the key "value"
    assert server.reads() == ["/v1/kv1/robots/prod/api"]


def test_the_token_file_is_read_on_each_request_so_an_agent_can_renew_it(
    server: FakeVault, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("hvs.expired\n")
    vault = HashiCorpVault(
        HashiCorpSettings.from_environ({"VAULT_ADDR": server.address, "VAULT_TOKEN_FILE": str(token_file)})
    )
    assert "403 permission denied" in failure(vault, "crm_robot.password")
    token_file.write_text(TOKEN + "\n")
    assert vault.get("crm_robot.password") == PASSWORD


def test_an_entry_is_read_once_for_a_few_seconds(server: FakeVault) -> None:
    clock = Clock()
    vault = HashiCorpVault(settings(server.address, TANDEM_VAULT_HASHICORP_CACHE_SECONDS="5"), clock=clock)
    assert vault.get("crm_robot.username") == "robot.crm"
    assert vault.get("crm_robot.password") == PASSWORD
    server.entries["secret/tandem/crm_robot"]["password"] = "rotated"
    clock.now += 4
    assert vault.get("crm_robot.password") == PASSWORD
    assert len(server.requests) == 1
    clock.now += 2
    assert vault.get("crm_robot.password") == "rotated"  # a rotated password is seen after the cache time
    assert len(server.requests) == 2
    uncached = HashiCorpVault(settings(server.address, TANDEM_VAULT_HASHICORP_CACHE_SECONDS="0"))
    uncached.get("crm_robot.username")
    uncached.get("crm_robot.username")
    assert len(server.requests) == 4


def test_a_wrong_token_names_the_policy_it_needs(server: FakeVault) -> None:
    vault = HashiCorpVault(settings(server.address, VAULT_TOKEN="hvs.wrong-token-1234"))
    message = failure(vault, "crm_robot.password")
    assert message == (
        f"HashiCorp Vault at {server.address} denied reading secret 'crm_robot.password' from "
        "secret/data/tandem/crm_robot (403 permission denied): the token is invalid or expired, or none "
        'of its policies grants read on secret/data/tandem/* (path "secret/data/tandem/*" '
        '{ capabilities = ["read"] })'
    )
    assert "hvs.wrong-token-1234" not in message


def test_a_missing_entry_or_key_says_how_to_add_it(server: FakeVault) -> None:
    vault = HashiCorpVault(settings(server.address))
    assert failure(vault, "billing_robot.password") == (
        f"secret 'billing_robot.password' is not in HashiCorp Vault at {server.address} (nothing at "
        "secret/data/tandem/billing_robot): add it with "
        "'vault kv put secret/tandem/billing_robot password=...'"
    )
    assert failure(vault, "crm_robot.pin") == (
        f"secret 'crm_robot.pin': the entry secret/tandem/crm_robot in HashiCorp Vault at {server.address} "
        "has no key 'pin' (its keys: password, username): add it with "
        "'vault kv patch secret/tandem/crm_robot pin=...'"
    )
    server.deleted.add("secret/tandem/old_robot")
    assert "'vault kv undelete -versions=3 secret/tandem/old_robot'" in failure(vault, "old_robot.password")
    elsewhere = HashiCorpVault(settings(server.address, TANDEM_VAULT_HASHICORP_MOUNT="kv"))
    assert "no secrets engine at 'kv/'" in failure(elsewhere, "crm_robot.password")
    with pytest.raises(VaultError, match=re.escape("not valid: use 'entry' or 'entry.key'")):
        vault.get("crm robot/password")


def test_a_sealed_vault_says_so(server: FakeVault) -> None:
    server.sealed = True
    message = failure(HashiCorpVault(settings(server.address)), "crm_robot.password")
    assert "is sealed or not ready (503)" in message and "'vault operator unseal'" in message


def test_vault_down_or_slow_names_vault_addr() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = HashiCorpVault(settings(f"http://127.0.0.1:{port}"))
    assert failure(down, "crm_robot.password") == (
        f"cannot reach HashiCorp Vault at http://127.0.0.1:{port} to read secret 'crm_robot.password' "
        "(connection refused): check VAULT_ADDR and that Vault is running"
    )
    slow_server = FakeVault()
    slow_server.delay = 1.0
    try:
        slow = HashiCorpVault(settings(slow_server.address, TANDEM_VAULT_HASHICORP_TIMEOUT="0.2"))
        assert "did not answer within 0.2 s" in failure(slow, "crm_robot.password")
    finally:
        slow_server.stop()


def test_missing_or_wrong_settings_say_which_variable_to_set() -> None:
    with pytest.raises(VaultError, match="set VAULT_ADDR"):
        HashiCorpSettings.from_environ({"VAULT_TOKEN": TOKEN})
    with pytest.raises(VaultError, match="set VAULT_TOKEN or VAULT_TOKEN_FILE"):
        HashiCorpSettings.from_environ({"VAULT_ADDR": "https://vault.example.com:8200"})
    with pytest.raises(VaultError, match="use 2 or 1"):
        settings("https://vault.example.com:8200", TANDEM_VAULT_HASHICORP_KV_VERSION="3")
    with pytest.raises(VaultError, match="VAULT_SKIP_VERIFY='maybe' is not a boolean"):
        settings("https://vault.example.com:8200", VAULT_SKIP_VERIFY="maybe")
    assert TOKEN not in repr(settings("https://vault.example.com:8200"))


def test_tls_is_verified_unless_told_otherwise(tmp_path: Path) -> None:
    ca_file, server_tls = certificates(tmp_path)
    server = FakeVault(tls=server_tls)
    server.entries["secret/tandem/crm_robot"] = {"password": PASSWORD}
    try:
        untrusted = HashiCorpVault(settings(server.address))
        assert "set VAULT_CACERT to the PEM file of the CA" in failure(untrusted, "crm_robot.password")
        trusted = HashiCorpVault(settings(server.address, VAULT_CACERT=str(ca_file)))
        assert trusted.get("crm_robot.password") == PASSWORD
        unverified = HashiCorpVault(settings(server.address, VAULT_SKIP_VERIFY="true"))
        assert unverified.get("crm_robot.password") == PASSWORD
    finally:
        server.stop()


def test_the_token_is_in_no_error_and_no_log(server: FakeVault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vault = HashiCorpVault(settings(server.address))
    messages = [failure(vault, "nobody.password")]
    server.answer = (500, {"errors": [f"internal error for request with token {TOKEN}"]})
    messages.append(failure(vault, "other.password"))
    server.answer = None
    messages.append(failure(HashiCorpVault(settings(server.address, VAULT_TOKEN="hvs.other")), "crm_robot.x"))
    assert vault.get("crm_robot.password") == PASSWORD
    assert messages[1] == (
        f"HashiCorp Vault at {server.address} answered 500 reading secret 'other.password' from "
        "secret/data/tandem/other: internal error for request with token ***"
    )
    assert "secret/data/tandem/crm_robot" in caplog.text  # the requests were logged...
    assert TOKEN not in caplog.text and PASSWORD not in caplog.text  # ...without the token or a value
    assert TOKEN not in repr(vault)


def test_default_vault_asks_hashicorp_after_the_environment(
    server: FakeVault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_hashicorp(monkeypatch, server)
    chained = default_vault()
    assert isinstance(chained, ChainVault)
    assert chained.get("crm_robot.password") == PASSWORD
    monkeypatch.setenv("TANDEM_SECRET_CRM_ROBOT_PASSWORD", "from-env")
    assert chained.get("crm_robot.password") == "from-env"  # the environment wins, as over the file
    with pytest.raises(VaultError) as neither:
        chained.get("nope.password")
    assert "TANDEM_SECRET_NOPE_PASSWORD" in neither.value.message
    assert "'vault kv put secret/tandem/nope password=...'" in neither.value.message

    monkeypatch.setenv("TANDEM_VAULT", "consul")
    with pytest.raises(
        VaultError, match=re.escape("TANDEM_VAULT='consul' is not a vault: use env or hashicorp")
    ):
        default_vault()
    monkeypatch.setenv("TANDEM_VAULT", "hashicorp")
    monkeypatch.delenv("VAULT_ADDR")
    with pytest.raises(VaultError, match="set VAULT_ADDR"):
        default_vault()


def test_workflows_read_secrets_from_hashicorp_vault_and_mask_them(
    server: FakeVault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_hashicorp(monkeypatch, server)
    assert_masked_in_a_run(tmp_path, "crm_robot.password", PASSWORD)


def use_hashicorp(monkeypatch: pytest.MonkeyPatch, server: FakeVault) -> None:
    """The default vault set up for ``server``, nothing else configured."""
    clear_vault_environment(monkeypatch)
    monkeypatch.setenv("TANDEM_VAULT", "hashicorp")
    monkeypatch.setenv("VAULT_ADDR", server.address)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)


def clear_vault_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TANDEM_VAULT_CLASS",
        "TANDEM_VAULT_FILE",
        "TANDEM_VAULT_KEY",
        "TANDEM_VAULT_KEY_FILE",
        "TANDEM_SECRET_CRM_ROBOT_PASSWORD",  # e2e fixtures of the same session may have set it
        "VAULT_TOKEN_FILE",
        "VAULT_NAMESPACE",
        "VAULT_CACERT",
        "VAULT_CAPATH",
        "VAULT_SKIP_VERIFY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("MOUNT", "PATH", "KV_VERSION", "CACHE_SECONDS", "TIMEOUT"):
        monkeypatch.delenv(f"TANDEM_VAULT_HASHICORP_{name}", raising=False)


def certificates(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its PEM file) and a server context with a certificate it signed for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, signer: Any, ca: bool
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Tandem test CA", ca_key, None, ca_key, ca=True)
    leaf = certificate("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
