"""Sealing personal data that must travel inside events (the applicant's phone number).

Events on shared topics are read by many consumers and kept for days, so a phone number never travels in clear
text: intake seals it with AES-256-GCM under a key that only intake and notify hold (`CONTACT_SEALING_KEY`).
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SealingError(ValueError):
    pass


def new_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _aead(key: str) -> AESGCM:
    try:
        raw = base64.urlsafe_b64decode(key)
    except ValueError as exc:
        raise SealingError("CONTACT_SEALING_KEY is not base64") from exc
    if len(raw) != 32:
        raise SealingError("CONTACT_SEALING_KEY must be 32 bytes (base64), see README")
    return AESGCM(raw)


def seal(plaintext: str, key: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead(key).encrypt(nonce, plaintext.encode(), _VERSION.encode())
    return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(token: str, key: str) -> str:
    version, _, body = token.partition(".")
    if version != _VERSION or not body:
        raise SealingError("unknown sealed-value format")
    try:
        raw = base64.urlsafe_b64decode(body)
    except ValueError as exc:  # binascii.Error: a damaged token is a sealing error like any other
        raise SealingError("sealed value is not base64") from exc
    try:
        return _aead(key).decrypt(raw[:12], raw[12:], _VERSION.encode()).decode()
    except Exception as exc:
        raise SealingError("sealed value cannot be opened with this key") from exc
