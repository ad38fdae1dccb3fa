from connectors.platforms.registry import Docs, Platform

PLATFORM = Platform(
    name="zettle",
    label="Zettle",
    connector="connectors.platforms.zettle.connector.ZettleConnector",
    sandbox="connectors.platforms.zettle.sandbox.ZettleSandbox",
    port=8105,
    demo="connectors.platforms.zettle.demo",
    testing="connectors.platforms.zettle.testing.ZettleHooks",
    order=50,
    docs=Docs(
        base_url="`https://inventory.izettle.com`",
        remote_id="variantUuid",
        remote_parent_id="productUuid",
        writes="delta: one `PUT /organizations/self/inventory` moving the differences "
        "(SUPPLIER→STORE to add, STORE→BIN to remove)",
        per_request="one STORE read and one move per 100 variants; products not tracked yet are "
        "started first",
        reads="the STORE balances",
        rate_note="documented for v3, assumed for v1 and v2",
        untracked="`untracked_quantity` at STORE (a product Zettle does not track already sells "
        "without limit)",
    ),
)
