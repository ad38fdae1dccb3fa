from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from config.favicon import favicon
from connectors.views import webhook

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    # Channels' webhooks, each channel at its own unguessable address (Channel.webhook_token).
    path("hooks/<str:token>/", webhook, name="webhook"),
]

# A refusal inside the admin's frame, naming the role that may do it.
handler403 = "config.forbidden.permission_denied"
