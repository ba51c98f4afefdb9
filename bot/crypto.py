"""Encryption at rest for Twitch tokens: Fernet with a key derived from SECRET_KEY by HKDF."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.errors import StreamStatsError

# Changing this label (or SECRET_KEY) makes every stored token unreadable: users link again.
KEY_LABEL = b"streamstats twitch-token encryption v1"


class DecryptionError(StreamStatsError):
    """A stored token cannot be decrypted (SECRET_KEY changed, or the data was altered)."""


class TokenCipher:
    """Encrypts and authenticates short secrets; the key never leaves this object."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_LABEL).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext as URL-safe text, fit for a TEXT column."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext; `DecryptionError` if the key differs or the text was tampered with."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as error:
            raise DecryptionError("a stored Twitch token could not be decrypted") from error
