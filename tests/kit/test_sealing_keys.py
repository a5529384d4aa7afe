"""Key rotation for sealed personal data: every value names its key, old values open after a rotation and are
moved to the new key by `mpp_kit.reseal`; a value is bound to its purpose and its application; a service with a
missing or malformed key refuses to start, naming the setting."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import asyncpg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr, ValidationError

from mpp_kit import reseal
from mpp_kit.sealing import (
    Keyring,
    OptionalSealingKeys,
    SealingError,
    SealingKeys,
    keyring,
    new_key,
    seal,
    unseal,
)
from mpp_kit.settings import ServiceSettings

PHONE = "+6281234560001"
NIK = "6402024101900001"
APPLICATION = uuid.uuid4()


def v1_token(plaintext: str, key: str) -> str:
    """A value as the kit sealed it before key ids (AES-GCM, associated data b"v1")."""
    nonce = b"\x01" * 12
    sealed = AESGCM(base64.urlsafe_b64decode(key)).encrypt(nonce, plaintext.encode(), b"v1")
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()


def test_a_sealed_value_names_its_key_and_the_first_key_seals() -> None:
    ring = Keyring.parse(f"k2:{new_key()},k1:{new_key()}")
    token = ring.seal(PHONE, purpose="phone", bound_to=APPLICATION)
    assert token.startswith("v2.k2.") and PHONE not in token
    assert ring.unseal(token, purpose="phone", bound_to=APPLICATION) == PHONE


def test_values_sealed_with_the_old_key_open_after_rotation() -> None:
    old, new = new_key(), new_key()
    before = seal(PHONE, f"k1:{old}", purpose="phone", bound_to=APPLICATION)
    rotated = f"k2:{new},k1:{old}"
    assert unseal(before, rotated, purpose="phone", bound_to=APPLICATION) == PHONE
    after = seal(PHONE, rotated, purpose="phone", bound_to=APPLICATION)
    assert after.startswith("v2.k2.")
    with pytest.raises(SealingError, match="'k2', which is not in the keyring"):
        unseal(after, f"k1:{old}", purpose="phone", bound_to=APPLICATION)
    with pytest.raises(SealingError, match="'k1', which is not in the keyring"):
        unseal(before, f"k2:{new}", purpose="phone", bound_to=APPLICATION)


def test_values_sealed_before_key_ids_open_with_the_legacy_key() -> None:
    old = new_key()
    before = v1_token(PHONE, old)
    # Today's setting (one bare key) and the transition keyring (new key first, old key as `legacy`).
    assert unseal(before, old, purpose="phone", bound_to=APPLICATION) == PHONE
    assert unseal(before, f"k2:{new_key()},legacy:{old}", purpose="phone", bound_to=APPLICATION) == PHONE
    with pytest.raises(SealingError):
        unseal(before, f"k2:{new_key()},k1:{old}")  # only the key named `legacy` opens them


def test_a_bare_key_is_the_legacy_key_and_keeps_working() -> None:
    key = new_key()
    token = seal(PHONE, key, purpose="phone", bound_to=APPLICATION)
    assert token.startswith("v2.legacy.")
    assert unseal(token, f"k2:{new_key()},legacy:{key}", purpose="phone", bound_to=APPLICATION) == PHONE


@pytest.mark.parametrize(
    ("purpose", "bound_to"),
    [("nik", APPLICATION), ("phone", uuid.uuid4()), ("", ""), ("phone", str(APPLICATION) + " ")],
)
def test_another_purpose_or_binding_does_not_open(purpose: str, bound_to: object) -> None:
    key = new_key()
    token = seal(PHONE, key, purpose="phone", bound_to=APPLICATION)
    with pytest.raises(SealingError, match="cannot be opened"):
        unseal(token, key, purpose=purpose, bound_to=str(bound_to))
    assert unseal(token, key, purpose="phone", bound_to=str(APPLICATION)) == PHONE  # str or UUID alike


def test_a_tampered_token_or_a_swapped_key_id_does_not_open() -> None:
    k1, k2 = new_key(), new_key()
    ring = f"k1:{k1},k2:{k2}"
    token = seal(PHONE, ring, purpose="phone", bound_to=APPLICATION)
    _, kid, body = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0x01
    tampered = f"v2.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SealingError):
        unseal(tampered, ring, purpose="phone", bound_to=APPLICATION)
    with pytest.raises(SealingError):
        unseal(f"v2.k2.{body}", ring, purpose="phone", bound_to=APPLICATION)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "missing"),
        ("k1:not base64 at all!", "not base64"),
        (f"k1:{base64.urlsafe_b64encode(b'short').decode()}", "32 bytes"),
        (f"k1:{new_key()},k1:{new_key()}", "listed twice"),
        (f"k 1:{new_key()}", "key id"),
        (f"k1:{new_key()},", "empty entry"),
    ],
)
def test_a_malformed_keyring_is_refused_naming_the_setting(value: str, reason: str) -> None:
    with pytest.raises(SealingError, match=f"NIK_ENCRYPTION_KEY.*{reason}"):
        Keyring.parse(value, "NIK_ENCRYPTION_KEY")


class SealingSettings(ServiceSettings):
    nik_encryption_key: SealingKeys
    spare_key: OptionalSealingKeys = SecretStr("")


def test_a_service_with_a_malformed_key_refuses_to_start_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NIK_ENCRYPTION_KEY", "k1:tooshort")
    with pytest.raises(ValidationError) as refused:
        SealingSettings()
    assert "NIK_ENCRYPTION_KEY" in str(refused.value) and "tooshort" not in str(refused.value)
    monkeypatch.delenv("NIK_ENCRYPTION_KEY")
    with pytest.raises(ValidationError, match="nik_encryption_key"):
        SealingSettings()  # missing
    monkeypatch.setenv("CONTACT_SEALING_KEY", "not a key")
    monkeypatch.setenv("NIK_ENCRYPTION_KEY", new_key())
    with pytest.raises(ValidationError, match="CONTACT_SEALING_KEY"):
        SealingSettings()
    monkeypatch.delenv("CONTACT_SEALING_KEY")
    settings = SealingSettings()
    assert keyring(settings.nik_encryption_key).current == "legacy"
    assert settings.contact_sealing_key.get_secret_value() == ""  # optional: a service that seals nothing


async def test_reseal_moves_old_values_to_the_current_key_and_is_idempotent(database: str) -> None:
    old, new = new_key(), new_key()
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "CREATE TABLE application (id uuid PRIMARY KEY, phone_sealed text, nik_sealed text)"
        )
        ids = [uuid.uuid4() for _ in range(7)]
        rows = [
            (ids[0], v1_token(PHONE, old), None),  # before key ids
            *[(i, seal(PHONE, f"k1:{old}", purpose="phone", bound_to=i), None) for i in ids[1:5]],
            (ids[5], seal(PHONE, f"k1:{old}", purpose="phone", bound_to=ids[0]), None),  # bound elsewhere
            (ids[6], "", None),
        ]
        await conn.executemany("INSERT INTO application VALUES ($1, $2, $3)", rows)
        rotated = Keyring.parse(f"k2:{new},k1:{old},legacy:{old}")

        report = await reseal.reseal_column(
            conn, rotated, table="application", column="phone_sealed", purpose="phone", batch_size=2
        )
        assert report.resealed == 5 and report.unopenable == [str(ids[5])] and report.remaining == 1

        stored = {r["id"]: r["phone_sealed"] for r in await conn.fetch("SELECT * FROM application")}
        new_only = Keyring.parse(f"k2:{new}")
        for i in ids[:5]:
            assert stored[i].startswith("v2.k2.")
            assert new_only.unseal(stored[i], purpose="phone", bound_to=i) == PHONE

        again = await reseal.reseal_column(
            conn, rotated, table="application", column="phone_sealed", purpose="phone"
        )
        assert again.resealed == 0 and again.remaining == 1
        assert {r["id"]: r["phone_sealed"] for r in await conn.fetch("SELECT * FROM application")} == stored
    finally:
        await conn.close()


async def test_the_reseal_command_reads_the_key_from_the_environment(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = new_key(), new_key()
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE TABLE application (id uuid PRIMARY KEY, nik_sealed text)")
        application = uuid.uuid4()
        await conn.execute(
            "INSERT INTO application VALUES ($1, $2)",
            application,
            seal(NIK, old, purpose="nik", bound_to=application),
        )
    finally:
        await conn.close()
    monkeypatch.setenv("NIK_ENCRYPTION_KEY", f"k2:{new},legacy:{old}")
    argv = ["--dsn", database, "--table", "application", "--column", "nik_sealed", "--purpose", "nik"]
    # The command runs its own event loop: a worker thread, not this test's loop.
    code = await asyncio.to_thread(reseal.main, [*argv, "--key-env", "NIK_ENCRYPTION_KEY"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resealed"] == 1
    assert await asyncio.to_thread(reseal.main, [*argv, "--key-env", "NO_SUCH_KEY"]) == 2
    assert "NO_SUCH_KEY is missing" in capsys.readouterr().err
    assert (
        await asyncio.to_thread(
            reseal.main, [*argv[:3], "app; drop", *argv[4:], "--key-env", "NIK_ENCRYPTION_KEY"]
        )
        == 2
    )
