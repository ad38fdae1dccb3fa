"""The page a refused request gets (handler403): inside the admin's frame, saying what was
refused, which role may do it (config.roles) and which role the user has.

The permission a page needs is read from the URL it was refused at: an admin URL is named
`<app>_<model>_<view>` (add, change, delete, changelist, history, or a model admin's own view
such as adjust or import), django-rq's pages `django_rq_<view>`. This page must never fail
itself: whatever it cannot work out (an anonymous user, an unknown URL, a URL outside the
admin), it leaves out, and the frame falls back to a plain page."""

import logging

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db.models import Count, Q
from django.http import HttpResponseForbidden
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

from config.roles import CLERK, MANAGER, VIEWER

log = logging.getLogger(__name__)

ROLES = (VIEWER, CLERK, MANAGER)  # least to most: a refusal names the first that may
IMPORT = "inventory.import_stock"
STOCK = {
    "adjust": ("Adjusting stock", ["inventory.adjust_stock"]),
    "move": ("Moving stock", ["inventory.move_stock"]),
    # Reversing a movement may undo any action, moves too.
    "reverse": ("Reversing movements", ["inventory.adjust_stock", "inventory.move_stock"]),
}
# Django's own views of a model: (words, the permissions of which one is enough).
MODEL_VIEWS = {
    "add": ("Adding {one}", ["add"]),
    "change": ("Viewing {one}", ["view", "change"]),  # refused only to those who may do neither
    "changelist": ("Viewing the {many}", ["view", "change"]),
    "history": ("Viewing the history of {one}", ["view", "change"]),
    "delete": ("Deleting {one}", ["delete"]),
    "export": ("Exporting the {many}", ["view", "change"]),
}
JOB_QUEUES = ("Using the job queues", ["django_rq.admin"], False)
PLAIN = "403 Forbidden: you may not see this page."


def permission_denied(request, exception=None):
    """handler403: the admin's frame with what was refused and who may do it."""
    try:
        context = {**_frame(request), **refusal(request)}
        if exception is not None and str(exception):
            context["detail"] = str(exception)
        html = render_to_string("403.html", context, request=request)
    except Exception:  # a refusal must reach the user, whatever broke on the way
        log.exception("the 403 page failed; a plain one was sent")
        return HttpResponseForbidden(PLAIN, content_type="text/plain; charset=utf-8")
    return HttpResponseForbidden(html)


def _frame(request):
    """The admin's context (header, navigation, the user's tools), when the admin can give it."""
    try:
        return {**admin.site.each_context(request), "framed": True}
    except Exception:
        log.exception("the 403 page has no admin frame")
        return {"framed": False, "site_header": admin.site.site_header}


def refusal(request):
    """What was refused, who may do it, and who the user is, as template context: `needs`,
    `you` and `ask` are sentences."""
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    context = {"title": "Not allowed", "signed_in": signed_in}
    mine = []
    if signed_in:
        mine = list(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        context["you"] = _you(user, mine)
    needed = needed_permissions(request)
    if needed is None:
        context["needs"] = "This page is not open to you."
        return context
    what, perms, any_of, model_admin = needed
    roles = roles_with(perms, any_of=any_of)
    held = signed_in and (any if any_of else all)(user.has_perm(p) for p in perms)
    if held:
        # The permission is there, the page refuses anyway (a ledger line cannot be deleted,
        # an import is its uploader's to run): no role would help.
        context["needs"] = f"{what} is not done on this page, by any role, administrators too."
    elif roles:
        context["needs"] = f"{what} needs the {_either(roles)} role."
        context["ask"] = "Ask an administrator."
    else:
        context["needs"] = f"{what} is for administrators (superusers) only."
        context["ask"] = "Ask an administrator."
    context["roles"] = roles
    if model_admin is not None and signed_in and model_admin.has_view_permission(request):
        opts = model_admin.model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:
            url = None
        context["model_link"] = (capfirst(opts.verbose_name_plural), url)
    return context


def _you(user, roles):
    if user.is_superuser:
        return "You are an administrator (superuser)."
    if len(roles) == 1:
        article = "an" if roles[0][0] in "AEIOU" else "a"
        return f"You are {article} {roles[0]}."
    if roles:
        return f"Your roles are {' and '.join(roles)}."
    return "Your account has no role yet."


def _either(roles):
    return roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " or " + roles[-1]


def needed_permissions(request):
    """(words for what was refused, permissions, whether any one of them is enough, the model
    admin) for the URL of this request, or None when it cannot be told."""
    match = getattr(request, "resolver_match", None)
    name = getattr(match, "url_name", None) or ""
    if match is None or "admin" not in match.namespaces or not name:
        return None
    if name.startswith("django_rq_"):
        return (*JOB_QUEUES, None)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        prefix = f"{opts.app_label}_{opts.model_name}_"
        if name.startswith(prefix):
            return _model_view(model_admin, name.removeprefix(prefix))
    return None


def _model_view(model_admin, view):
    opts = model_admin.model._meta
    plural = opts.verbose_name_plural
    if view in STOCK:
        what, perms = STOCK[view]
        return what, perms, False, model_admin
    if view in ("import", "process_import", "confirm", "retry"):
        perms = [IMPORT, *getattr(model_admin, "import_permissions", ())]
        return f"Importing a file of {plural}", perms, False, model_admin
    words, actions = MODEL_VIEWS.get(view, ("Changing {one}", ["change"]))
    perms = [f"{opts.app_label}.{action}_{opts.model_name}" for action in actions]
    one = str(opts.verbose_name)
    one = f"{'an' if one[:1].lower() in 'aeiou' else 'a'} {one}"
    return words.format(one=one, many=plural), perms, len(perms) > 1, model_admin


def roles_with(perms, *, any_of=False):
    """The role names (least first) whose group holds the permissions (all, or any one)."""
    wanted = Q()
    for perm in perms:
        app_label, _, codename = perm.partition(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    found = Permission.objects.filter(wanted)
    groups = Group.objects.filter(name__in=ROLES, permissions__in=found)
    if not any_of:
        groups = groups.annotate(n=Count("permissions", distinct=True)).filter(n=len(perms))
    names = set(groups.values_list("name", flat=True))
    return [role for role in ROLES if role in names]
