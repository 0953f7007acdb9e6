"""IAP's signed header, verified with google-auth against a key set served by a stub transport
(the same ES256 JWT and key-set formats IAP uses; the test plays Google's key endpoint)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import jwt
from google.auth.crypt import es256

from firewatch.console import security
from firewatch.console.iap import IAP_CERTS_URL, IAP_ISSUER, IapVerifier

AUDIENCE = "/projects/123/global/backendServices/456"


@dataclass
class _Response:
    status: int
    data: bytes


def _keys():
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    return es256.ES256Signer.from_string(private, key_id="k1"), {"k1": public}


def _token(signer, **claims) -> str:
    now = int(time.time())
    payload = {"iss": IAP_ISSUER, "aud": AUDIENCE, "email": "dana@example.com", "iat": now, "exp": now + 600}
    payload.update(claims)
    return jwt.encode(signer, payload).decode()


def test_verified_iap_identity_and_refusals() -> None:
    signer, keyset = _keys()
    fetched = []

    def transport(url, method="GET", **_):
        fetched.append(url)
        return _Response(200, json.dumps(keyset).encode())

    verifier = IapVerifier(AUDIENCE, transport=transport)
    ask = dict(tokens={}, trust_iap=True, loopback=False, iap_verifier=verifier)
    header = security.IAP_ASSERTION_HEADER
    assert security.operator_for({header: _token(signer)}, {}, **ask) == "dana@example.com"
    assert security.operator_for({header: _token(signer)}, {}, **ask) == "dana@example.com"
    assert fetched == [IAP_CERTS_URL]  # the key set is cached
    other_signer, _ = _keys()
    for bad, reason in (
        (_token(other_signer), "does not verify"),
        (_token(signer, aud="/projects/999/global/backendServices/1"), "does not verify"),
        (_token(signer, iss="https://evil.example"), "wrong issuer"),
    ):
        with pytest.raises(security.NotAuthenticated, match=reason):
            security.operator_for({header: bad}, {}, **ask)
    # With verification on, the plain e-mail header alone is not enough.
    with pytest.raises(security.NotAuthenticated, match="no X-Goog-IAP-JWT-Assertion"):
        security.operator_for({security.IAP_HEADER: "accounts.google.com:eve@example.com"}, {}, **ask)
