from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Sales channels"

    def ready(self):
        from connectors import receivers  # noqa: F401  (connects the stock_changed receiver)
