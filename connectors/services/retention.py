"""How long the exchanges with the channels are kept: push records older than
SYNC["PUSH_RECORD_DAYS"] go, except each listing's latest exchange and latest write, which
answer "why does the channel show 7?" (the variant's page links the latest write) however
long ago they were."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from connectors.models import PushRecord

BATCH = 1000  # records examined and deleted per transaction

Link = PushRecord.listings.through


def push_records_purge(*, days=None, batch=BATCH):
    """Delete push records older than `days` (PUSH_RECORD_DAYS), a batch per transaction,
    keeping every listing's latest record and latest write; returns how many went."""
    days = settings.SYNC["PUSH_RECORD_DAYS"] if days is None else days
    before = timezone.now() - timedelta(days=days)
    deleted, after = 0, 0
    while True:
        ids = list(
            PushRecord.objects.filter(created_at__lt=before, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        after = ids[-1]
        with transaction.atomic():
            kept = _latest_of_a_listing(ids)
            gone = [pk for pk in ids if pk not in kept]
            Link.objects.filter(pushrecord_id__in=gone).delete()
            deleted += (
                PushRecord.objects.filter(pk__in=gone).delete()[1].get(PushRecord._meta.label, 0)
            )


def _latest_of_a_listing(ids):
    """Those of these records that are some listing's latest, or its latest write: no later
    record (write) concerns that listing. Records only get newer, so what is not kept now
    never has to be."""
    later = Link.objects.filter(
        listing_id=OuterRef("listing_id"), pushrecord_id__gt=OuterRef("pushrecord_id")
    )
    links = Link.objects.filter(pushrecord_id__in=ids).filter(
        ~Exists(later)
        | (Q(pushrecord__purpose="write") & ~Exists(later.filter(pushrecord__purpose="write")))
    )
    return set(links.values_list("pushrecord_id", flat=True))
