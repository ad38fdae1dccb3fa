from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Inventory back-office"
admin.site.site_title = "Inventory"
admin.site.index_title = "Stock, catalog and channels"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
