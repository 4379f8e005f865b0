"""The public complaint page (/c/): anyone may file a complaint without an account and follow it with
the tracking number and their phone number (or the access code shown after submitting).

No login, CSRF on, rate-limited per client address (ratelimit.py). The tracking page shows only what
the complainant may see: the status, the dates, and the notes addressed to them; never staff names,
internal notes or other cases. A lookup that does not match says only that nothing was found."""

from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from zhidu.kernel.errors import ApiError, Forbidden, Invalid
from zhidu.kernel.form_errors import apply_errors

from . import ratelimit, reports, selectors, services
from .forms import PublicComplaintForm, TrackForm


SESSION_KEY = "complaints_public_receipt"


def _closed_message() -> str:
    return _("本单位暂未开放网上投诉，请通过电话或现场投诉")


def _public_open(options: dict) -> bool:
    channel = options.get("public_channel")
    return bool(channel) and channel in {o.get("key") for o in options.get("channels") or []}


@never_cache
@require_http_methods(["GET", "POST"])
def submit(request):
    options = reports.current_options()
    form = PublicComplaintForm(request.POST or None, categories=options.get("categories") or [])
    context = {"form": form, "open": _public_open(options)}
    if request.method == "POST":
        who = ratelimit.address(request)
        if ratelimit.exceeded("submit", who):
            context["limited"] = _("提交过于频繁，请一小时后再试，或拨打投诉电话")
            return render(request, "complaints/public/submit.html", context, status=429)
        if form.is_valid():
            if form.cleaned_data.get("website"):
                # Filled by an automated form filler: pretend nothing happened, keep nothing.
                return redirect("complaints_public:submit")
            ratelimit.hit("submit", who)
            try:
                complaint = services.complaint_submit_public(form.service_data(), request=request)
            except Invalid as exc:
                apply_errors(form, exc)
            except Forbidden as exc:
                context["open"] = False
                form.add_error(None, str(exc.message))
            except ApiError as exc:
                form.add_error(None, str(exc.message))
            else:
                request.session[SESSION_KEY] = {"tracking_no": complaint.tracking_no, "access_code": complaint.access_code}
                return redirect("complaints_public:done")
    return render(request, "complaints/public/submit.html", context)


@never_cache
def done(request):
    """The receipt, shown once: the tracking number and the access code."""
    receipt = request.session.pop(SESSION_KEY, None)
    if not receipt:
        return redirect("complaints_public:track")
    return render(request, "complaints/public/done.html", {"receipt": receipt})


@never_cache
@require_http_methods(["GET", "POST"])
def track(request):
    """Look a complaint up by tracking number and phone (or access code). POST keeps the phone out of
    addresses and server logs; GET with ?no= only fills the form."""
    form = TrackForm(request.POST or None, initial={"tracking_no": request.GET.get("no", "")})
    context = {"form": form, "result": None}
    if request.method == "POST" and form.is_valid():
        who = ratelimit.address(request)
        number = form.cleaned_data["tracking_no"]
        if ratelimit.exceeded("lookup", who) or ratelimit.exceeded("lookup_failed", number) or ratelimit.exceeded("lookup_failed", f"ip:{who}"):
            context["limited"] = _("查询过于频繁，请一小时后再试")
            return render(request, "complaints/public/track.html", context, status=429)
        ratelimit.hit("lookup", who)
        result = selectors.complaint_track(number, form.cleaned_data["code"])
        if result is None:
            ratelimit.hit("lookup_failed", number)
            ratelimit.hit("lookup_failed", f"ip:{who}")
            context["not_found"] = _("没有找到与受理编号和电话（或查询码）相符的投诉，请核对后再试")
        else:
            context["result"] = _public_view(result)
    return render(request, "complaints/public/track.html", context)


PUBLIC_KEYS = ("tracking_no", "subject", "status", "status_label", "registered_at", "first_response_due", "resolution_due", "closed_at", "reply_text")


def _public_view(result: dict) -> dict:
    """Only the public fields of the selector's answer, events with their labels."""
    view = {key: result.get(key) for key in PUBLIC_KEYS}
    view["events"] = [
        {"at": e.get("at"), "label": reports.event_label(e.get("kind", "")), "note": e.get("note", "")} for e in result.get("events") or []
    ]
    return view
