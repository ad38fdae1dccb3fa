"""{% load display %}: inventory.display's words in templates.

{{ channel.last_error|clipped }}    {{ listing.confirmed_at|when }}    {{ cap|quantity }}
"""

from django import template

from inventory import display

register = template.Library()


@register.filter
def clipped(text, limit=display.CLIP):
    return display.clipped(text, int(limit))


@register.filter
def when(moment):
    return display.when(moment)


@register.filter
def quantity(value):
    return display.quantity(value)
