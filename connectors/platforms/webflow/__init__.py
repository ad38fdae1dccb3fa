from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="webflow",
    label="Webflow",
    connector="connectors.platforms.webflow.connector.WebflowConnector",
    sandbox="connectors.platforms.webflow.sandbox.WebflowSandbox",
    port=8102,
    demo="connectors.platforms.webflow.demo",
    testing="connectors.platforms.webflow.testing.WebflowHooks",
    order=20,
    docs=Docs(
        base_url="`https://api.webflow.com` (with or without `/v2`)",
        remote_id="SKU id",
        remote_parent_id="SKU collection id (not the product collection's)",
        writes="absolute: `PATCH /v2/collections/{SKU collection}/items/{SKU}/inventory`, "
        "`quantity`",
        per_request="one SKU",
        reads="`GET` the same path",
        rate_note="120 with `requests_per_minute` on CMS, eCommerce and Business plans",
        untracked="`inventoryType: infinite`",
    ),
)
