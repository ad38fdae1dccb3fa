from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="shopify",
    label="Shopify",
    connector="connectors.platforms.shopify.connector.ShopifyConnector",
    sandbox="connectors.platforms.shopify.sandbox.ShopifySandbox",
    port=8106,
    demo="connectors.platforms.shopify.demo",
    testing="connectors.platforms.shopify.testing.ShopifyHooks",
    order=60,
    docs=Docs(
        base_url="`https://{shop}.myshopify.com` (the connector adds "
        "`/admin/api/{api_version}/graphql.json`; version 2026-10 by default)",
        remote_id="InventoryItem GID (`gid://shopify/InventoryItem/…`)",
        remote_parent_id="Location GID (`gid://shopify/Location/…`), or blank for the "
        "channel's `location_id`",
        writes="compare-and-set: GraphQL `inventorySetQuantities` (`available`, "
        "`changeFromQuantity` = what Shopify last confirmed, `@idempotent`)",
        per_request="250 levels",
        reads="GraphQL `nodes(ids:)` with `inventoryLevel(locationId:)`, 125 items a query",
        rate_note="a ceiling: what Shopify counts is query cost (a 2,000-point bucket "
        "refilled at 100 a second on a standard plan), paced by each answer's `throttleStatus`",
        untracked="`untracked_quantity`; an item Shopify does not track reads as unlimited",
    ),
)
