from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="unicommerce",
    label="Unicommerce",
    connector="connectors.platforms.unicommerce.connector.UnicommerceConnector",
    sandbox="connectors.platforms.unicommerce.sandbox.UnicommerceSandbox",
    port=8103,
    demo="connectors.platforms.unicommerce.demo",
    testing="connectors.platforms.unicommerce.testing.UnicommerceHooks",
    order=30,
    docs=Docs(
        base_url="the marketplace's URL (we play Uniware against a marketplace hosting the "
        "contract)",
        remote_id="variantId",
        remote_parent_id="productId",
        writes="absolute: `/authToken`, then `POST /updateInventory` with the `apiKey` header, "
        "`inventory` per line",
        per_request="up to `batch_max` (1000) lines",
        reads="`GET /products`, 50 a page, by SKU",
        rate_note="our own courtesy pace: the contract states none",
        untracked="`untracked_quantity`",
    ),
)
