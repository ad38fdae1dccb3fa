"""Benchmarks (README: Benchmarks). They run the app as in production, DEBUG off, which needs
its keys: one set per benchmark run, shared by the processes it starts."""

import secrets

from cryptography.fernet import Fernet

PRODUCTION_KEYS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
}
