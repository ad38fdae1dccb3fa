"""The one public endpoint: channels deliver their webhooks here, each to its own URL."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.services.inbound import inbound_receive


@csrf_exempt
@require_POST
def webhook(request, token):
    """Store the delivery and answer at once (2xx fast: the platforms give up after 10 s);
    the processing is a worker's. Never a 500: every refusal is an answer with a reason."""
    limit = settings.INBOUND["MAX_BODY"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _answer(413, f"a delivery may hold at most {limit:,} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _answer(413, f"a delivery may hold at most {limit:,} bytes")
    headers = {name.lower(): value for name, value in request.headers.items()}
    answer = inbound_receive(token, headers, body)
    return _answer(answer.status, answer.text)


def _answer(status, text):
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
