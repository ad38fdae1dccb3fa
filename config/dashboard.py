"""The admin site, whose front page is a dashboard: stock by location, variants at or below
their reorder point, channel health and the latest movements, each shown to those who may
view its model, above the usual list of apps.

It needs both packages, so it lives here rather than in `inventory` (which knows nothing of
channels). Its cost does not grow with the catalog: a fixed number of queries, each an
aggregate or a short list (pinned in tests/config/test_dashboard.py; timed on 100,000
variants by tests/benchmarks/admin_pages.py)."""

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import ngettext

from connectors.models import Channel, ChannelOrder, Listing
from connectors.selectors import (
    channel_health,
    channels_with_health,
    quiet_channels,
    sales_counts,
)
from inventory import selectors
from inventory.models import Movement, StockLevel, Variant

REORDER_ROWS = 20
MOVEMENT_ROWS = 10


class BackOfficeAdminSite(admin.AdminSite):
    site_header = "Inventory back-office"
    site_title = "Inventory"
    index_title = "Stock, catalog and channels"
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        context = {**dashboard_context(request, self), **(extra_context or {})}
        return super().index(request, context)


def dashboard_context(request, site):
    """The sections this user may see, as template context; a section the user may not see
    costs no query."""

    def may_view(model):
        return site.is_registered(model) and site.get_model_admin(model).has_view_permission(
            request
        )

    context = {}
    if may_view(StockLevel):
        locations = selectors.stock_by_location()
        context["locations"] = locations
        # Quantities add up across locations; SKU counts would count a variant per location.
        context["location_totals"] = {
            key: sum(totals[key] for _, totals in locations)
            for key in ("on_hand_total", "allocated_total", "available_total")
        }
    if may_view(Variant):
        reorder, count = selectors.variants_to_reorder_shortlist(limit=REORDER_ROWS)
        context["reorder"], context["reorder_count"] = reorder, count
        context["reorder_caption"] = ngettext(
            "At or below reorder point: %(n)s variant",
            "At or below reorder point: %(n)s variants",
            count,
        ) % {"n": number_format(count, force_grouping=True)}
    if may_view(Channel):
        now = timezone.now()
        context["channels"] = [channel_health(c, now) for c in channels_with_health(listings=False)]
        context["may_view_listings"] = may_view(Listing)
    if may_view(ChannelOrder):
        context["sales"] = {**sales_counts(), "quiet": quiet_channels()}
    if may_view(Movement):
        context["movements"] = selectors.latest_movements(limit=MOVEMENT_ROWS)
    return context
