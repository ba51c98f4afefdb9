"""Session JWTs and OAuth states: what verifies, what is refused and why; tokens at rest."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from bot.crypto import DecryptionError, TokenCipher
from bot.errors import InvalidToken
from bot.tokens import SESSION_LIFETIME, TokenSigner
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def signer(clock) -> TokenSigner:
    return TokenSigner(TEST_SECRET_KEY, clock)


def test_a_session_token_carries_who_and_expires_after_an_hour(signer, clock):
    token, issued = signer.issue_session("1234", "98765", "viewer_one")
    claims = signer.verify_session(token)

    assert claims == issued
    assert (claims.discord_id, claims.twitch_id, claims.twitch_login) == (
        "1234",
        "98765",
        "viewer_one",
    )
    assert claims.expires_at - claims.issued_at == SESSION_LIFETIME
    raw = jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert raw["sub"] == "1234" and isinstance(raw["jti"], str) and raw["jti"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_every_session_has_a_unique_id(signer):
    assert signer.issue_session("1", "2", "x")[1].jti != signer.issue_session("1", "2", "x")[1].jti


def test_an_expired_session_is_refused_after_a_small_leeway(signer, clock):
    token, _ = signer.issue_session("1234", "98765", "viewer_one")
    clock.advance(hours=1, seconds=10)
    assert signer.verify_session(token).discord_id == "1234"  # within the leeway
    clock.advance(minutes=1)
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify_session(token)


OTHER_KEY = "another-key-that-is-long-enough-0123456"


def forge(claims: dict, key: str = TEST_SECRET_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(clock) -> dict:
    now = int(clock().timestamp())
    return {
        "sub": "1234",
        "twitch_id": "98765",
        "twitch_login": "viewer_one",
        "jti": "u2bQ0Xk9cT1mZr4yLh7PwA",
        "iat": now,
        "exp": now + 3600,
        "purpose": "api-session",
    }


def unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda c: unsigned(valid_claims(c)), "algorithm"),
        (lambda c: forge(valid_claims(c), key=OTHER_KEY), "signature"),
        (lambda c: forge(valid_claims(c), key=OTHER_KEY * 2, algorithm="HS512"), "algorithm"),
        (lambda c: forge({**valid_claims(c), "exp": valid_claims(c)["iat"] - 120}), "expired"),
        (lambda c: forge({k: v for k, v in valid_claims(c).items() if k != "jti"}), "'jti'"),
        (lambda c: forge({k: v for k, v in valid_claims(c).items() if k != "exp"}), "'exp'"),
        (lambda c: forge({k: v for k, v in valid_claims(c).items() if k != "sub"}), "'sub'"),
        (lambda c: forge({**valid_claims(c), "purpose": "oauth-state"}), "not meant"),
        (lambda c: "not.a.jwt", "malformed"),
        (lambda c: "", "malformed"),
    ],
    ids=["alg-none", "wrong-key", "other-alg", "past-exp", "no-jti", "no-exp", "no-sub",
         "a-state", "garbage", "empty"],
)  # fmt: skip
def test_tampered_or_incomplete_session_tokens_are_refused(signer, clock, make, reason):
    with pytest.raises(InvalidToken, match=reason):
        signer.verify_session(make(clock))


def test_a_state_is_bound_to_its_discord_user_and_lasts_ten_minutes(signer, clock):
    state, issued = signer.issue_state("1234")
    assert signer.verify_state(state) == issued
    assert issued.discord_id == "1234"
    clock.advance(minutes=10, seconds=31)
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify_state(state)


def test_a_session_token_is_not_a_state(signer):
    token, _ = signer.issue_session("1234", "98765", "viewer_one")
    with pytest.raises(InvalidToken):
        signer.verify_state(token)


def test_tokens_at_rest_are_encrypted_and_authenticated():
    cipher = TokenCipher(TEST_SECRET_KEY)
    secret = "twitch-access-token-abc123"
    stored = cipher.encrypt(secret)

    assert secret not in stored
    assert cipher.decrypt(stored) == secret
    assert cipher.encrypt(secret) != stored  # a fresh nonce every time
    with pytest.raises(DecryptionError):
        TokenCipher(TEST_SECRET_KEY + "-rotated").decrypt(stored)
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered)


def test_state_lifetime_is_ten_minutes(signer, clock):
    _, issued = signer.issue_state("1")
    assert issued.expires_at - clock().replace(microsecond=0) == timedelta(minutes=10)


def test_a_browser_binding_names_one_state_and_takes_our_key_to_make(signer, clock):
    _, state = signer.issue_state("1234")
    _, other = signer.issue_state("1234")
    binding = signer.browser_binding(state)

    assert signer.binds_browser(state, binding)
    assert signer.browser_binding(state) == binding  # the callback recomputes it
    for presented in (None, "", state.nonce, signer.browser_binding(other), binding[:-1]):
        assert not signer.binds_browser(state, presented)
    assert TokenSigner(OTHER_KEY, clock).browser_binding(state) != binding


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iat": "1700000000"}, "'iat'"),
        ({"iat": [1700000000]}, "'iat'"),
        ({"exp": float("nan")}, "'exp'"),
        ({"exp": 10**20}, "'exp'"),
        ({"exp": True}, "'exp'"),
        ({"jti": "u2bQ0Xk9cT1mZr4y\x00h7PwA"}, "'jti'"),
        ({"jti": "j" * 3000}, "'jti'"),
        ({"sub": "1234\x00"}, "'sub'"),
        ({"sub": "9" * 400}, "'sub'"),
        ({"twitch_id": ["98765"]}, "'twitch_id'"),
        ({"twitch_login": {"login": "x"}}, "'twitch_login'"),
    ],
    ids=["iat-text", "iat-list", "exp-nan", "exp-beyond-datetime", "exp-bool", "jti-nul",
         "jti-huge", "sub-nul", "sub-huge", "twitch-id-list", "twitch-login-dict"],
)  # fmt: skip
def test_validly_signed_session_tokens_with_malformed_claims_are_refused(
    signer, clock, change, reason
):
    with pytest.raises(InvalidToken, match=reason):
        signer.verify_session(forge({**valid_claims(clock), **change}))


@pytest.mark.parametrize(
    "change",
    [{"nonce": ["x" * 22]}, {"nonce": "\x00" * 22}, {"nonce": "n" * 65}, {"exp": 2**70},
     {"sub": 1234}],
    ids=["nonce-list", "nonce-nul", "nonce-huge", "exp-huge", "sub-number"],
)  # fmt: skip
def test_validly_signed_states_with_malformed_claims_are_refused(signer, clock, change):
    _, issued = signer.issue_state("1234")
    claims = {
        "sub": "1234",
        "nonce": issued.nonce,
        "exp": int(issued.expires_at.timestamp()),
        "purpose": "oauth-state",
    }
    assert signer.verify_state(forge(claims)) == issued
    with pytest.raises(InvalidToken):
        signer.verify_state(forge({**claims, **change}))
