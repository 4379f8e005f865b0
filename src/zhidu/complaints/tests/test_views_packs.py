"""The complaint pages under every complaint pack in packs/: whatever channels, categories, steps and
time limits a pack sets, the list, the register form, the case page (with the first step offered),
the register sheet, the dashboard and the report render, and the first step posted through the page
moves the case on."""

from pathlib import Path

import pytest
from django.urls import reverse

from zhidu.complaints import selectors, services
from zhidu.complaints.models import Complaint, Status

pytestmark = pytest.mark.django_db

PACKS_DIR = Path(__file__).resolve().parents[4] / "packs"
COMPLAINT_PACKS = sorted(
    p.stem for p in PACKS_DIR.glob("s*.yaml") if "complaints." in p.read_text(encoding="utf-8")
)


@pytest.mark.parametrize("name", COMPLAINT_PACKS)
def test_pages_render_under_each_pack(client, cx, pack, at, name):
    at("2026-09-14T10:00")
    pack(name)
    options = services.policy_snapshot()[0]
    channel = options["channels"][0]["key"]
    client.force_login(cx.qm)
    # Registering through the page with the pack's first channel.
    response = client.post(
        reverse("complaints:new"),
        {"channel": channel, "complainant_name": "测试人", "complainant_phone": "13912345678", "subject": "事由", "content": "内容"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    complaint = Complaint.objects.get()
    for url in (
        reverse("complaints:list"),
        reverse("complaints:new"),
        reverse("complaints:detail", args=[complaint.pk]),
        reverse("complaints:register_form", args=[complaint.pk]),
        reverse("complaints:dashboard"),
        reverse("complaints:report"),
        reverse("complaints:my_penalties"),
        reverse("complaints_public:submit"),
        reverse("complaints_public:track"),
    ):
        assert client.get(url).status_code == 200, url
    # The first step the pack's workflow offers, posted through the page.
    actions = selectors.available_actions(cx.qm, complaint)
    first = next(a for a in actions if a in ("decide", "assign"))
    html = client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert f'id="form-{first}"' in html
    # The pack's first step is the panel shown open.
    assert f'id="step-{first}" class="accordion-collapse collapse show"' in html
    data = {f"{first}-version": complaint.version}
    if first == "decide":
        data[f"{first}-valid"] = "1"
    else:
        data.update({f"{first}-department": cx.org.dept_a.pk, f"{first}-owner": cx.agent.pk})
    response = client.post(reverse("complaints:act", args=[complaint.pk, first]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    complaint.refresh_from_db()
    assert complaint.status != Status.REGISTERED
