"""HighLevel's webhook signatures (channels-inbound.md §2.2), checked with its public keys.

Every delivery is signed over the raw body: `x-ghl-signature` is a base64 Ed25519 signature
(the newer scheme), `x-wh-signature` a base64 RSA PKCS#1 v1.5 / SHA-256 one (the legacy
scheme, whose 4096-bit key HighLevel publishes). As in the official SDKs, the Ed25519 header
is checked whenever it is present and the channel holds an Ed25519 key, with no fallback to
the RSA header when it fails; without that header or that key, the RSA header is checked.
Then the body's `timestamp` must be within five minutes of now (replays; a repeated
`webhookId` is the core's to refuse).

The channel's credential holds one or more keys, so a rotation can list the old and the new
one: PEM blocks (SubjectPublicKeyInfo, or PKCS#1 "RSA PUBLIC KEY"), and, for Ed25519, the raw
32-byte key as 64 hex digits or base64, the other forms the official SDKs accept.
"""

import base64
import binascii
import functools
import json
import re
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from connectors.platforms.inbound import Verdict, header

ED25519_HEADER, RSA_HEADER = "x-ghl-signature", "x-wh-signature"
TOLERANCE = 300  # seconds a delivery's timestamp may be off from now (the docs' 5 minutes)
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----", re.DOTALL)
MAX_SIGNATURE = 2048  # characters: a 4096-bit RSA signature is 684 in base64
BROKEN_KEY = (ValueError, TypeError, UnsupportedAlgorithm)


def verify(headers, body: bytes, keys: str, now: float) -> Verdict:
    """Whether `body` was signed by HighLevel, per the keys the channel holds (never raises)."""
    if not isinstance(body, bytes):
        return Verdict(False, "the body is not raw bytes")
    ed25519_keys, rsa_keys = public_keys(keys if isinstance(keys, str) else "")
    if not ed25519_keys and not rsa_keys:
        return Verdict(False, "the channel holds no HighLevel webhook public key to check with")
    if header(headers, ED25519_HEADER) and ed25519_keys:
        verdict = _check(headers, ED25519_HEADER, body, ed25519_keys, _ed25519)
    elif header(headers, RSA_HEADER):
        if not rsa_keys:
            return Verdict(False, f"{RSA_HEADER} needs HighLevel's RSA public key; none is set")
        verdict = _check(headers, RSA_HEADER, body, rsa_keys, _rsa)
    elif header(headers, ED25519_HEADER):
        return Verdict(False, f"{ED25519_HEADER} needs an Ed25519 public key; none is set")
    else:
        return Verdict(False, f"no {ED25519_HEADER} or {RSA_HEADER} header")
    return verdict if not verdict.valid else _fresh(body, now, verdict)


@functools.lru_cache(maxsize=64)
def public_keys(text: str) -> tuple:
    """(Ed25519 keys, RSA keys) read from the credential; what cannot be read is left out."""
    ed25519_keys, rsa_keys = [], []
    loaded = [_pem(m.group(0)) for m in PEM_BLOCK.finditer(text)]
    loaded += [_raw_ed25519(word) for word in PEM_BLOCK.sub(" ", text).split()]
    for key in loaded:
        if isinstance(key, Ed25519PublicKey):
            ed25519_keys.append(key)
        elif isinstance(key, RSAPublicKey):
            rsa_keys.append(key)
    return tuple(ed25519_keys), tuple(rsa_keys)


def _pem(block):
    """A PEM block, also as pasted into a one-line field (line breaks lost or turned into
    spaces): its base64 is laid out again in 64-character lines."""
    match = re.fullmatch(r"(-----BEGIN [A-Z ]+-----)(.*?)(-----END [A-Z ]+-----)", block, re.DOTALL)
    body = "".join(match.group(2).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    text = "\n".join([match.group(1), *lines, match.group(3)]) + "\n"
    try:
        return serialization.load_pem_public_key(text.encode())
    except BROKEN_KEY:
        return None


def _raw_ed25519(word):
    """A bare Ed25519 key: 32 bytes as 64 hex digits or as base64."""
    try:
        raw = bytes.fromhex(word) if len(word) == 64 else base64.b64decode(word, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else None
    except (*BROKEN_KEY, binascii.Error):
        return None


def _check(headers, name, body, keys, verify_one):
    value = header(headers, name)
    signature = _base64(value) if isinstance(value, str) and len(value) <= MAX_SIGNATURE else None
    if signature is None:
        return Verdict(False, f"{name} is not a base64 signature")
    if any(verify_one(key, signature, body) for key in keys):
        return Verdict(True, f"{name} verified")
    return Verdict(False, f"{name} does not match the body for any key the channel holds")


def _base64(value):
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None


def _ed25519(key, signature, body):
    try:
        key.verify(signature, body)
    except (InvalidSignature, ValueError):
        return False
    return True


def _rsa(key, signature, body):
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _fresh(body, now, verdict):
    """The signed body's `timestamp` is within TOLERANCE of now."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return Verdict(False, "the signed body is not JSON")
    stamp = payload.get("timestamp") if isinstance(payload, dict) else None
    when = parse_time(stamp)
    if when is None:
        return Verdict(False, "the signed body has no ISO 8601 timestamp (replays cannot be told)")
    age = now - when.timestamp()
    if age > TOLERANCE:
        return Verdict(False, f"stale: its timestamp is {age:.0f} s old (at most {TOLERANCE} s)")
    if age < -TOLERANCE:
        return Verdict(False, f"its timestamp is {-age:.0f} s in the future")
    return verdict


def parse_time(value):
    """An ISO 8601 time as an aware datetime (UTC when it names no zone), or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        when.timestamp()  # a year the platform's clock cannot reach fails here, not later
    except (ValueError, OverflowError, OSError):
        return None
    return when
