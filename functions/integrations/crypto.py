"""Envelope encryption of integration secrets (tokens, webhook secrets, PKCE verifiers).

Each save asks KMS for a fresh data key (``GenerateDataKey``, AES-256, under the key alias
from settings, with the integration id as encryption context), encrypts each secret with
AES-GCM (``cryptography``) using the integration id (and the field's name) as associated
data, and forgets the plaintext key. Stored: the ciphertexts (``base64(nonce || ct)``) and
the KMS-encrypted data key. A ciphertext copied to another integration or field fails to
decrypt. boto3 and cryptography load on first use.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from core import aws
from core.settings import Settings

NONCE_BYTES = 12


class CryptoError(RuntimeError):
    """A secret could not be decrypted (wrong key, tampered, or wrong associated data)."""


@dataclass(frozen=True)
class Sealed:
    data_key_ciphertext: str
    key_id: str
    ciphertexts: dict[str, str | None]


def _aad(context: str, field: str) -> bytes:
    return f"{context}:{field}".encode()


def _kms(settings: Settings):  # type: ignore[no-untyped-def]
    return aws._client("kms", settings)


def seal(
    settings: Settings, key_alias: str, context: str, secrets: dict[str, str | None]
) -> Sealed:
    """Encrypt ``secrets`` (name -> plaintext or None) under one new data key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    answer = _kms(settings).generate_data_key(
        KeyId=key_alias, KeySpec="AES_256", EncryptionContext={"context": context}
    )
    cipher = AESGCM(answer["Plaintext"])
    out: dict[str, str | None] = {}
    for name, value in secrets.items():
        if value is None:
            out[name] = None
            continue
        nonce = os.urandom(NONCE_BYTES)
        ct = cipher.encrypt(nonce, value.encode("utf-8"), _aad(context, name))
        out[name] = base64.b64encode(nonce + ct).decode("ascii")
    return Sealed(
        data_key_ciphertext=base64.b64encode(answer["CiphertextBlob"]).decode("ascii"),
        key_id=str(answer["KeyId"]),
        ciphertexts=out,
    )


def open_sealed(
    settings: Settings, context: str, data_key_ciphertext: str, ciphertexts: dict[str, str | None]
) -> dict[str, str | None]:
    """Decrypt what :func:`seal` made for the same ``context``."""
    from botocore.exceptions import ClientError
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        key = _kms(settings).decrypt(
            CiphertextBlob=base64.b64decode(data_key_ciphertext),
            EncryptionContext={"context": context},
        )["Plaintext"]
    except (ClientError, ValueError) as exc:
        raise CryptoError("the data key could not be decrypted") from exc
    cipher = AESGCM(key)
    out: dict[str, str | None] = {}
    for name, value in ciphertexts.items():
        if value is None:
            out[name] = None
            continue
        raw = base64.b64decode(value)
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(context, name))
        except InvalidTag as exc:
            raise CryptoError(f"{name} failed authentication") from exc
        out[name] = plain.decode("utf-8")
    return out
