"""Links from a customer file to the same customer in the other modules, for the modules installed and
the permissions the viewer holds. The customers app knows nothing of the modules built above it."""

from django import template
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from zhidu.web.context import url_or_none

register = template.Library()

# (label, icon, url name, permission, how the customer id is passed: "arg" or a query parameter name)
CUSTOMER_LINKS = [
    (_("分级与评审"), "bi-award", "grading:customer", "grading.view", "arg"),
    (_("信用"), "bi-credit-card", "credit:customer", "credit.view", "arg"),
    (_("登记投诉"), "bi-megaphone", "complaints:new", "complaints.handle", "customer"),
    (_("投诉记录"), "bi-list-check", "complaints:list", "complaints.view", "customer"),
]


@register.inclusion_tag("web/customer_links.html", takes_context=True)
def customer_links(context, customer):
    user = context["request"].user
    links = []
    for label, icon, name, permission, how in CUSTOMER_LINKS:
        if not user.has_perm_code(permission):
            continue
        url = url_or_none(name, customer.pk) if how == "arg" else url_or_none(name)
        if url is None:
            continue
        if how != "arg":
            url = f"{url}?{urlencode({how: customer.pk})}"
        links.append({"label": label, "icon": icon, "url": url})
    return {"links": links}
