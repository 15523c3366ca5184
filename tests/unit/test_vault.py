"""Vaults: environment variables, the encrypted file, a vault of one's own; errors never hold a secret."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.vault import ChainVault, EncryptedFileVault, EnvVault, Vault, VaultError, default_vault
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT, steps_workflow

SECRET = "s3cr3t-Ünïcode-pw"


class TeamVault(Vault):
    """A vault of one's own, as TANDEM_VAULT_CLASS would load (e.g. a HashiCorp Vault client)."""

    def get(self, name: str) -> str:
        if name == "team.token":
            return "team-token-42"
        raise VaultError(f"secret {name!r} is not in the team vault")


def test_env_vault_names_the_variable_to_set() -> None:
    vault = EnvVault({"TANDEM_SECRET_CRM_ROBOT_PASSWORD": SECRET})
    assert vault.get("crm_robot.password") == SECRET
    assert vault.entry("crm_robot", ("password",)) == {"password": SECRET}
    with pytest.raises(VaultError) as missing:
        vault.get("crm_robot.username")
    assert missing.value.message == (
        "secret 'crm_robot.username' is not set: "
        "set the environment variable TANDEM_SECRET_CRM_ROBOT_USERNAME"
    )
    with pytest.raises(VaultError, match=re.escape("not valid: use 'entry' or 'entry.key'")):
        vault.get("crm robot/password")


def test_encrypted_file_round_trip_and_nothing_readable_on_disk(tmp_path: Path) -> None:
    key = EncryptedFileVault.generate_key()
    path = tmp_path / "robots.vault"
    writer = EncryptedFileVault(path, key)
    writer.set("crm_robot.username", "robot.crm")
    writer.set("crm_robot.password", SECRET)
    writer.set("api_token", "tok-123456")
    assert SECRET.encode() not in path.read_bytes() and b"robot.crm" not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0  # only the robot's user may read it
    reader = EncryptedFileVault(path, key)
    assert reader.entry("crm_robot") == {"username": "robot.crm", "password": SECRET}
    assert reader.get("api_token") == "tok-123456"
    writer.set("crm_robot.password", "rotated-pw")  # a rotated password is seen without a restart
    assert reader.get("crm_robot.password") == "rotated-pw"
    with pytest.raises(VaultError) as missing:
        reader.get("billing_robot.password")
    assert "add it with 'python -m connectors.vault set billing_robot.password'" in missing.value.message


def test_a_wrong_key_or_a_bad_key_says_so_without_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "robots.vault"
    EncryptedFileVault(path, EncryptedFileVault.generate_key()).set("crm_robot.password", SECRET)
    with pytest.raises(VaultError) as wrong:
        EncryptedFileVault(path, EncryptedFileVault.generate_key()).get("crm_robot.password")
    assert "the key is not the one it was made with" in wrong.value.message
    with pytest.raises(VaultError) as bad:
        EncryptedFileVault(path, "not-a-key").get("crm_robot.password")
    assert "python -m connectors.vault init" in bad.value.message
    assert SECRET not in wrong.value.message + bad.value.message


def test_default_vault_chains_env_and_file_and_loads_a_vault_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "TANDEM_VAULT_CLASS",
        "TANDEM_VAULT_FILE",
        "TANDEM_VAULT_KEY",
        "TANDEM_VAULT_KEY_FILE",
        "TANDEM_SECRET_CRM_ROBOT_PASSWORD",  # e2e fixtures of the same session may have set it
    ):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(default_vault(), EnvVault)
    key_file = tmp_path / "vault.key"
    key_file.write_text(EncryptedFileVault.generate_key())
    EncryptedFileVault(tmp_path / "v", key_file.read_text()).set("crm_robot.password", "from-file")
    monkeypatch.setenv("TANDEM_VAULT_FILE", str(tmp_path / "v"))
    monkeypatch.setenv("TANDEM_VAULT_KEY_FILE", str(key_file))
    chained = default_vault()
    assert isinstance(chained, ChainVault)
    assert chained.get("crm_robot.password") == "from-file"
    monkeypatch.setenv("TANDEM_SECRET_CRM_ROBOT_PASSWORD", "from-env")
    assert chained.get("crm_robot.password") == "from-env"  # the environment overrides the file
    with pytest.raises(VaultError) as neither:
        chained.get("nope.password")
    assert "TANDEM_SECRET_NOPE_PASSWORD" in neither.value.message and "vault file" in neither.value.message

    monkeypatch.setenv("TANDEM_VAULT_CLASS", f"{__name__}:TeamVault")
    assert default_vault().get("team.token") == "team-token-42"
    monkeypatch.setenv("TANDEM_VAULT_CLASS", "tests.unit.test_vault:Nope")
    with pytest.raises(VaultError, match=re.escape("give it as package.module:ClassName")):
        default_vault()


def test_workflows_read_secrets_from_the_configured_vault_and_mask_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = EncryptedFileVault.generate_key()
    EncryptedFileVault(tmp_path / "v", key).set("site.password", SECRET)
    monkeypatch.setenv("TANDEM_VAULT_FILE", str(tmp_path / "v"))
    monkeypatch.setenv("TANDEM_VAULT_KEY", key)
    monkeypatch.delenv("TANDEM_VAULT_CLASS", raising=False)
    assert_masked_in_a_run(tmp_path, "site.password", SECRET)


def assert_masked_in_a_run(tmp_path: Path, entry: str, value: str) -> None:
    """A workflow reads ``entry`` from the default vault, logs and fails with it: masked everywhere."""
    (tmp_path / "workflows").mkdir()
    flow = steps_workflow(
        f"""
        - set: {{pw: "{{{{ secret('{entry}') }}}}"}}
        - core.log: "using {{{{ pw }}}}"
        - fail: "login refused for password {{{{ pw }}}}"
        """
    )
    record = Engine(Project(tmp_path), humans=InMemoryHumans(), artifacts_dir=tmp_path / "a").run(flow, {})
    assert record.status == "failed_business"
    assert record.error == "login refused for password ***"
    assert value not in record.model_dump_json()


def test_the_vault_command_makes_and_fills_a_file(tmp_path: Path) -> None:
    def vault(*args: str, stdin: str = "", key: str = "") -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "TANDEM_VAULT_FILE": str(tmp_path / "v")}
        if key:
            env["TANDEM_VAULT_KEY"] = key
        return subprocess.run(
            [sys.executable, "-m", "connectors.vault", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )

    key = vault("init").stdout.strip()
    no_key = vault("set", "crm_robot.password", stdin=SECRET + "\n")
    assert no_key.returncode == 1 and "set TANDEM_VAULT_KEY or TANDEM_VAULT_KEY_FILE" in no_key.stderr
    stored = vault("set", "crm_robot.password", stdin=SECRET + "\n", key=key)
    assert stored.returncode == 0, stored.stderr
    assert SECRET not in stored.stdout + stored.stderr
    listed = vault("list", key=key)
    assert listed.stdout.split() == ["crm_robot.password"]
    assert EncryptedFileVault(tmp_path / "v", key).get("crm_robot.password") == SECRET
