"""Sealing personal data: the applicant's phone number inside events, the NIK and the phone number at rest.

Events on shared topics are read by many consumers and kept for days, so a phone number never travels in clear
text: intake seals it with AES-256-GCM under a key that only intake and notify hold (`CONTACT_SEALING_KEY`); the
NIK is sealed at rest under `NIK_ENCRYPTION_KEY`, which only intake holds.

Keys rotate. A key setting is a keyring, `kid:base64key,kid:base64key`: the first key seals, every listed key
opens. Each sealed value names its key (`v2.<kid>.<nonce+ciphertext>`), so a value sealed before a rotation opens
as long as its key stays listed, and `mpp_kit.reseal` moves stored values to the current key before an old key is
dropped. A bare `base64key` (the format before key ids) is the key id `legacy`.

A value is bound to what it is and whose it is: the associated data holds the purpose (`phone`, `nik`) and the
record it belongs to (the application id), so a sealed NIK pasted into a phone column, or one application's
phone copied into another's row, does not open.

Values sealed before key ids (`v1.<...>`, no purpose, no binding) open only with the key id `legacy` during the
transition: keep the old key listed as `legacy:<old key>` (or bare) until `mpp_kit.reseal` has moved every
stored value and the topics' retention has passed.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AfterValidator, SecretStr, ValidationInfo

LEGACY_KID = "legacy"
# The purposes a value is sealed for: the sealing and the opening side must name the same one.
PHONE = "phone"
NIK = "nik"
_V1 = "v1"  # before key ids: AES-GCM with the associated data b"v1", nothing bound
_V2 = "v2"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12


class SealingError(ValueError):
    pass


def new_key() -> str:
    """A fresh key in the setting's format (base64 of 32 bytes; prefix it with `kid:` in a keyring)."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _key_bytes(encoded: str, setting: str, kid: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(encoded)
    except ValueError as exc:
        raise SealingError(f"{setting}: key {kid!r} is not base64") from exc
    if len(raw) != 32:
        raise SealingError(f"{setting}: key {kid!r} must be 32 bytes in base64 (new_key() makes one)")
    return raw


def _associated_data(kid: str, purpose: str, bound_to: str | UUID) -> bytes:
    # JSON of a list: no choice of purpose or binding can be read as another one.
    return json.dumps([_V2, kid, purpose, str(bound_to)]).encode()


@dataclass(frozen=True)
class Keyring:
    """The keys of one setting: `current` seals, every key opens the values sealed under its id."""

    keys: dict[str, AESGCM]
    current: str

    @classmethod
    def parse(cls, value: str, setting: str = "sealing key") -> Keyring:
        """`kid:key,kid:key` (the first seals) or one bare key (id `legacy`). Errors name `setting`."""
        keys: dict[str, AESGCM] = {}
        order: list[str] = []
        entries = [entry.strip() for entry in value.split(",")]
        if not any(entries):
            raise SealingError(f"{setting} is missing: set it to `kid:base64key` (new_key() makes one)")
        for entry in entries:
            if not entry:
                raise SealingError(f"{setting}: an empty entry in the key list")
            kid, sep, encoded = entry.rpartition(":")
            kid = kid if sep else LEGACY_KID
            if not _KID.match(kid):
                raise SealingError(f"{setting}: key id {kid!r} must be 1-32 letters, digits, '-' or '_'")
            if kid in keys:
                raise SealingError(f"{setting}: key id {kid!r} is listed twice")
            keys[kid] = AESGCM(_key_bytes(encoded, setting, kid))
            order.append(kid)
        return cls(keys, order[0])

    def seal(self, plaintext: str, *, purpose: str, bound_to: str | UUID) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        aad = _associated_data(self.current, purpose, bound_to)
        sealed = self.keys[self.current].encrypt(nonce, plaintext.encode(), aad)
        return f"{_V2}.{self.current}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def unseal(self, token: str, *, purpose: str, bound_to: str | UUID) -> str:
        version, _, rest = token.partition(".")
        if version == _V2:
            kid, _, body = rest.partition(".")
            aad = _associated_data(kid, purpose, bound_to)
        elif version == _V1:
            kid, body, aad = LEGACY_KID, rest, _V1.encode()
        else:
            raise SealingError("unknown sealed-value format")
        if not body:
            raise SealingError("unknown sealed-value format")
        key = self.keys.get(kid)
        if key is None:
            raise SealingError(f"sealed under key {kid!r}, which is not in the keyring")
        try:
            raw = base64.urlsafe_b64decode(body)
        except ValueError as exc:  # binascii.Error: a damaged token is a sealing error like any other
            raise SealingError("sealed value is not base64") from exc
        try:
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad).decode()
        except Exception as exc:
            raise SealingError(
                "sealed value cannot be opened with this key, for this purpose and this record"
            ) from exc

    def is_current(self, token: str) -> bool:
        """Sealed under the current key (nothing to re-seal)."""
        return token.startswith(f"{_V2}.{self.current}.")

    def reseal(self, token: str, *, purpose: str, bound_to: str | UUID) -> str:
        """The same value sealed under the current key (the token itself when it already is)."""
        if self.is_current(token):
            return token
        return self.seal(
            self.unseal(token, purpose=purpose, bound_to=bound_to), purpose=purpose, bound_to=bound_to
        )


@functools.lru_cache(maxsize=16)
def _parsed(value: str) -> Keyring:
    return Keyring.parse(value)


def keyring(key: str | SecretStr | Keyring) -> Keyring:
    """The keyring of a setting's value (parsed once per distinct value)."""
    if isinstance(key, Keyring):
        return key
    return _parsed(key.get_secret_value() if isinstance(key, SecretStr) else key)


def seal(
    plaintext: str, key: str | SecretStr | Keyring, *, purpose: str = "", bound_to: str | UUID = ""
) -> str:
    """Seal under the keyring's current key. Pass `purpose` and `bound_to` (the application id): the defaults
    exist only so that callers written before bindings keep working while they move over."""
    return keyring(key).seal(plaintext, purpose=purpose, bound_to=bound_to)


def unseal(
    token: str, key: str | SecretStr | Keyring, *, purpose: str = "", bound_to: str | UUID = ""
) -> str:
    """Open a value sealed with the same `purpose` and `bound_to`, under any key of the keyring."""
    return keyring(key).unseal(token, purpose=purpose, bound_to=bound_to)


def _valid_keyring(value: SecretStr, info: ValidationInfo) -> SecretStr:
    setting = (info.field_name or "sealing key").upper()
    try:
        Keyring.parse(value.get_secret_value(), setting)
    except SealingError as exc:
        raise ValueError(str(exc)) from None
    return value


def _valid_keyring_or_empty(value: SecretStr, info: ValidationInfo) -> SecretStr:
    return value if not value.get_secret_value() else _valid_keyring(value, info)


# Settings types. `SealingKeys`: required and checked when the settings are read, so a service with a missing or
# malformed key refuses to start, naming the setting. `OptionalSealingKeys`: may be empty (a service that does
# not seal), checked when given.
SealingKeys = Annotated[SecretStr, AfterValidator(_valid_keyring)]
OptionalSealingKeys = Annotated[SecretStr, AfterValidator(_valid_keyring_or_empty)]
