from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from connectors.views import webhook

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    # Channels' webhooks, each channel at its own unguessable address (Channel.webhook_token).
    path("hooks/<str:token>/", webhook, name="webhook"),
]
