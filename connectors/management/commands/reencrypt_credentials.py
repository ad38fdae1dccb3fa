"""Rewrite every channel's credentials and tokens under the first key of CREDENTIALS_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import ngettext

from connectors.fields import CredentialsUnreadable, readable
from connectors.models import Channel


class Command(BaseCommand):
    help = (
        "Encrypt every channel's credentials and tokens again with the first key of "
        "CREDENTIALS_KEYS: run it after putting a new key first, before removing the old one."
    )

    def handle(self, **options):
        rewritten, unreadable = 0, []
        for pk, name in Channel.objects.order_by("pk").values_list("pk", "name"):
            try:
                rewritten += self._rewrite(pk)
            except CredentialsUnreadable:
                unreadable.append(name)
        self.stdout.write(
            ngettext(
                "%(n)s channel encrypted with the first key",
                "%(n)s channels encrypted with the first key",
                rewritten,
            )
            % {"n": rewritten}
        )
        if unreadable:
            channels = ngettext("%(n)s channel", "%(n)s channels", len(unreadable)) % {
                "n": len(unreadable)
            }
            raise CommandError(
                f"{channels} could not be decrypted with any key in "
                f"CREDENTIALS_KEYS, left as they were: {', '.join(unreadable)} (put back the key "
                "they were encrypted with, after the first, and run this again)"
            )

    @staticmethod
    def _rewrite(pk):
        # Locked while it is rewritten: a worker keeping a token it just got is not undone.
        with transaction.atomic():
            channel = (
                Channel.objects.select_for_update()
                .only("pk", "credentials", "auth_state")
                .filter(pk=pk)
                .first()
            )
            if channel is None:  # deleted meanwhile
                return 0
            Channel.objects.filter(pk=pk).update(
                credentials=readable(channel.credentials), auth_state=readable(channel.auth_state)
            )
        return 1
