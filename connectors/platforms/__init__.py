"""The platform connectors, by platform name (the Channel.platform values).

Imported lazily by dotted path: a platform module is loaded only when a channel uses it.
"""

from django.utils.module_loading import import_string

CONNECTORS = {
    "highlevel": "connectors.platforms.highlevel.HighLevelConnector",
    "webflow": "connectors.platforms.webflow.WebflowConnector",
    "unicommerce": "connectors.platforms.unicommerce.UnicommerceConnector",
    "elasticpath": "connectors.platforms.elasticpath.ElasticPathConnector",
    "zettle": "connectors.platforms.zettle.ZettleConnector",
}


def connector_class(platform):
    """The Connector subclass for a platform name."""
    try:
        return import_string(CONNECTORS[platform])
    except KeyError:
        raise KeyError(f"no connector for platform {platform!r}") from None
