"""Who is trying to log in, for the failed-login lock-out (django-axes, see settings)."""

from django.conf import settings


def client_ip(request):
    """The client's address: the connection's, or behind LOGIN_PROXY_COUNT proxies the one the
    outermost proxy saw (each proxy appends its peer to X-Forwarded-For; whatever a client
    writes there itself stays to the left, so it cannot choose its address)."""
    hops = settings.LOGIN_PROXY_COUNT
    if hops:
        forwarded = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [h for h in forwarded if h]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")
