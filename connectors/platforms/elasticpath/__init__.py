from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="elasticpath",
    label="Elastic Path",
    connector="connectors.platforms.elasticpath.connector.ElasticPathConnector",
    sandbox="connectors.platforms.elasticpath.sandbox.ElasticPathSandbox",
    port=8104,
    demo="connectors.platforms.elasticpath.demo",
    testing="connectors.platforms.elasticpath.testing.ElasticPathHooks",
    order=40,
    docs=Docs(
        base_url="`https://useast.api.elasticpath.com` or `https://euwest.api.elasticpath.com`",
        remote_id="product id",
        writes="basic: delta, an `increment` or `decrement` transaction per product that "
        "differs; multi-location: absolute `set` (target + what the location holds allocated)",
        per_request="one read (`POST /v2/inventories/multiple`) per 100 products, then one "
        "transaction per changed product",
        reads="the same read",
        rate_note="25 for a development store",
        untracked="`untracked_quantity`",
    ),
)
