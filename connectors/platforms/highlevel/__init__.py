from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="highlevel",
    label="HighLevel",
    connector="connectors.platforms.highlevel.connector.HighLevelConnector",
    sandbox="connectors.platforms.highlevel.sandbox.HighLevelSandbox",
    port=8101,
    demo="connectors.platforms.highlevel.demo",
    testing="connectors.platforms.highlevel.testing.HighLevelHooks",
    order=10,
    docs=Docs(
        base_url="`https://services.leadconnectorhq.com`",
        remote_id="priceId",
        writes="absolute: `POST /products/inventory`, `availableQuantity` per priceId",
        per_request="up to 100 items",
        reads="`GET /products/inventory`, 100 a page",
        untracked="`allowOutOfStockPurchases: true`",
    ),
)
