"""The one HTTP path to channels: secrets never stored, never logged."""

import logging

from connectors.platforms import http


def test_redactor_removes_secrets_by_name_and_by_value():
    redactor = http.Redactor(["s3cr3t-value"])
    assert redactor.url("https://x.test/authToken?username=u&password=pw&page=2") == (
        "https://x.test/authToken?username=u&password=[redacted]&page=2"
    )
    assert redactor.headers({"Authorization": "Bearer abc", "apiKey": "k", "Accept": "json"}) == {
        "Authorization": "[redacted]",
        "apiKey": "[redacted]",
        "Accept": "json",
    }
    assert redactor.body('{"client_secret": "x", "note": "has s3cr3t-value inside"}') == (
        '{"client_secret": "[redacted]", "note": "has [redacted] inside"}'
    )
    assert redactor.body({"assertion": "key", "grant_type": "jwt"}) == (
        "assertion=%5Bredacted%5D&grant_type=jwt"
    )


def test_urllib3_debug_logs_never_carry_a_query_string(running_highlevel, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    exchanges = []
    http.send(
        "GET",
        f"{running_highlevel.url}/products/inventory?token=very-secret-token",
        purpose="read",
        redactor=http.Redactor(),
        exchanges=exchanges,
    )
    assert "very-secret-token" not in caplog.text
    assert "[query removed]" in caplog.text
    assert "very-secret-token" not in exchanges[0].url
