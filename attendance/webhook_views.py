"""Staff pages of the webhooks: the endpoints, one endpoint's secret and delivery log, and its actions.
Views validate a form, call one service of attendance.webhooks, and answer."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from attendance import webhooks
from attendance.forms import WebhookActiveForm, WebhookEndpointForm
from attendance.models import WebhookEndpoint
from attendance.selectors import webhook_endpoints
from attendx.forms import error_status, error_text


def _endpoint(endpoint_id) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoints(), pk=endpoint_id)


def _list_page(request, form, *, status=200):
    context = {"endpoints": webhook_endpoints(), "form": form}
    return render(request, "attendance/webhook_list.html", context, status=status)


@staff_required
def webhook_list(request):
    if request.method != "POST":
        return _list_page(request, WebhookEndpointForm())
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        messages.error(request, error_text(form))
        return _list_page(request, form, status=error_status(form))
    endpoint = webhooks.create_endpoint(**form.cleaned_data, by=request.user)
    added = _("Webhook endpoint %(url)s added: give its secret to the receiver.") % {"url": endpoint.url}
    messages.success(request, added)
    return redirect("attendance:webhook", endpoint_id=endpoint.pk)


@staff_required
def webhook_detail(request, endpoint_id):
    endpoint = _endpoint(endpoint_id)
    context = {"endpoint": endpoint, "deliveries": webhooks.recent_deliveries(endpoint)}
    return render(request, "attendance/webhook_detail.html", context)


@require_POST
@staff_required
def webhook_rotate_secret(request, endpoint_id):
    webhooks.rotate_secret(endpoint=_endpoint(endpoint_id))
    messages.success(request, _("New secret: the old one no longer verifies. Give this one to the receiver."))
    return redirect("attendance:webhook", endpoint_id=endpoint_id)


@require_POST
@staff_required
def webhook_set_active(request, endpoint_id):
    endpoint = _endpoint(endpoint_id)
    form = WebhookActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, error_text(form))
        context = {"endpoint": endpoint, "deliveries": webhooks.recent_deliveries(endpoint)}
        return render(request, "attendance/webhook_detail.html", context, status=error_status(form))
    webhooks.set_active(endpoint=endpoint, active=form.cleaned_data["active"])
    messages.success(request, _("Endpoint active.") if endpoint.is_active else _("Endpoint paused: nothing is sent."))
    return redirect("attendance:webhook", endpoint_id=endpoint.pk)
