"""Tally: a made-up platform that exists only in the tests, the smallest a platform can be
(absolute writes, or compare-and-set with the setting write_mode). Registered from these
files alone, it goes through the shared contract, the sandbox control and the end-to-end
sync tests like the real ones."""

from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="tally",
    label="Tally (test-only)",
    connector="tests.platforms.tally.connector.TallyConnector",
    sandbox="tests.platforms.tally.sandbox.TallySandbox",
    port=18199,
    testing="tests.platforms.tally.testing.TallyHooks",
    order=900,
    docs=Docs(
        base_url="a Tally sandbox",
        remote_id="level id",
        writes="absolute (or compare-and-set): `POST /v1/levels`",
        per_request="up to 50 levels",
        reads="`GET /v1/levels?ids=...`",
        untracked="`unlimited: true`",
    ),
)
