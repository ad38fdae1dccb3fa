"""A channel's rules cannot oversell by configuration: percentage 0-100, buffer and cap >= 0,
in the admin form and in the database."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.models import Channel
from tests.connectors.test_admin import channel_form, manager  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("percentage", "250", "less than or equal to 100"),
        ("percentage", "-1", "greater than or equal to 0"),
        ("buffer", "-5", "greater than or equal to 0"),
        ("cap", "-1", "greater than or equal to 0"),
        ("cap", "99999999999999999999", "less than or equal to"),
        ("buffer", "1e3", "Enter a whole number"),
    ],
)
def test_a_rule_that_would_oversell_is_refused_on_its_field(manager, make, field, value, message):  # noqa: F811
    wh = make.location("WH1")
    response = manager.post(
        reverse("admin:connectors_channel_add"), channel_form(locations=[wh.pk], **{field: value})
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not Channel.objects.exists()


def test_the_database_refuses_a_percentage_above_100():
    channel = Channel.objects.create(name="Shop", platform="highlevel", base_url="http://x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(percentage=250)
    Channel.objects.filter(pk=channel.pk).update(percentage=100)
    for field in ("buffer", "cap"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Channel.objects.filter(pk=channel.pk).update(**{field: -1})


# The manager's login is made once; each example cleans up the channel it made.
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(
                st.integers(min_value=-(2**70), max_value=2**70).map(str),
                st.text(max_size=30),
            )
            for name in ("buffer", "percentage", "cap", "zero_out_threshold", "name")
        },
    )
)
def test_no_value_in_the_channel_rules_gives_a_server_error(manager, values):  # noqa: F811
    response = manager.post(reverse("admin:connectors_channel_add"), channel_form(**values))
    assert response.status_code in (200, 302)
    for channel in Channel.objects.all():
        assert channel.percentage is None or 0 <= channel.percentage <= 100
        assert channel.buffer >= 0
    Channel.objects.all().delete()
