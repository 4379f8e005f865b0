"""Every write of admission and the blacklist, one function per business action, each in a transaction
and audited; plus `blacklist_check`, which other apps call before doing business with a customer.

Errors: `Invalid` (422), `Conflict` (409), `Forbidden` (403; code "blacklisted" for a listed customer),
`NotFound` (404) from zhidu.kernel.errors.
"""

import calendar as pycalendar
import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.customers import validation
from zhidu.kernel import approvals, audit, policy
from zhidu.kernel.access import DataScope, user_scope
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.org import permissions as perms
from zhidu.org.services import require

from .models import (
    OPEN_STATES,
    AdmissionApplication,
    AdmissionState,
    BlacklistEntry,
    BlacklistScope,
    BlacklistState,
    ChecklistItem,
    Evidence,
    Investigation,
    ReentryRequest,
    SetupStep,
)

# A listing excludes the customer while in its period and after it, until a re-entry is approved
# (S01 L305 在各销售部门范围内清除该客户; L315 经评审、审批后可重新进入客户名单).
BLOCKING_STATES = (BlacklistState.ACTIVE, BlacklistState.EXPIRED, BlacklistState.LIFTED)


# ---------------------------------------------------------------- blacklist check (cross-app)


def _excluding_q() -> Q:
    return Q(state__in=BLOCKING_STATES)


def _identity_q(*, customer_id=None, credit_code="", id_number="", name_key="") -> Q:
    q = Q(pk__in=[])
    if customer_id:
        q |= Q(customer_id=customer_id)
    if credit_code:
        q |= Q(credit_code=credit_code)
    if id_number:
        q |= Q(id_number=id_number)
    if name_key:
        q |= Q(name_key=name_key)
    return q


def _scope_filter(department) -> Q:
    if department is None:
        return Q()
    department_id = getattr(department, "pk", department)
    return Q(scope=BlacklistScope.COMPANY) | Q(scope=BlacklistScope.DEPARTMENT, department_id=department_id)


def blacklist_entries_in_force(*, customer_id=None, credit_code="", id_number="", name_key="", department=None):
    """The listings in force that match the customer (by record, 统一社会信用代码, 身份证号 or name) in the
    given department's scope: the company list always, that department's list; `department` None = every
    list. A listing stays in force after its period ends (状态“已到期/已解除”) until a re-entry is
    approved. Company listings first."""
    identity = _identity_q(customer_id=customer_id, credit_code=credit_code, id_number=id_number, name_key=name_key)
    return (
        BlacklistEntry.objects.filter(_excluding_q()).filter(identity).filter(_scope_filter(department))
        .select_related("department").order_by("scope", "-id")
    )


def blacklisted_error(entry: BlacklistEntry) -> Forbidden:
    if entry.scope == BlacklistScope.COMPANY:
        message = _("“%(name)s”已列入公司客户黑名单，公司所属各部门均不得与其发生商业行为。原因：%(reason)s（依据：%(citation)s）")
    else:
        message = _("“%(name)s”已列入%(department)s客户黑名单，该部门不得与其发生商业行为。原因：%(reason)s（依据：%(citation)s）")
    if entry.state != BlacklistState.ACTIVE:
        message += _("有效期已届满，须经评审和审批重新准入后方可恢复业务往来。")
    text = message % {
        "name": entry.name,
        "department": entry.department.name if entry.department_id else "",
        "reason": entry.reason,
        "citation": entry.citation,
    }
    return Forbidden(
        text,
        code="blacklisted",
        details={
            "entry_id": entry.pk,
            "scope": entry.scope,
            "department_id": entry.department_id,
            "reason": entry.reason,
            "citation": entry.citation,
            "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
            "state": entry.state,
        },
    )


def blacklist_check(customer, department=None) -> None:
    """Raises Forbidden (code "blacklisted", with the reason and the citation) when `customer` is on the
    company blacklist, or on `department`'s blacklist; `department` None checks every list in force.
    A listing whose period has ended still refuses until its re-entry is approved.
    `customer` is a Customer (or anything with pk, credit_code, id_number, name) or a customer id.
    Matches the customer record and the listed 统一社会信用代码 / 身份证号; returns None otherwise."""
    from zhidu.customers.models import Customer

    if not hasattr(customer, "pk"):
        customer = Customer.objects.filter(pk=customer).only("pk", "name", "credit_code", "id_number").first()
        if customer is None:
            return
    entry = blacklist_entries_in_force(
        customer_id=customer.pk,
        credit_code=getattr(customer, "credit_code", "") or "",
        id_number=getattr(customer, "id_number", "") or "",
        department=department,
    ).first()
    if entry is not None:
        raise blacklisted_error(entry)


# ---------------------------------------------------------------- admission applications

ADMISSION_KIND = "admission.application"
REENTRY_KIND = "admission.reentry"
TEXT_MAX = 1000
APPLICANT_FIELDS = ("customer_type", "name", "credit_code", "id_number", "legal_representative", "address", "region", "industry")
CONTACT_FIELDS = ("contact_name", "contact_phone")
EDITABLE_FIELDS = (*APPLICANT_FIELDS, *CONTACT_FIELDS, "note", "answers")


def checklist_for(customer_type: str):
    """(checklist dict, Param) of the pack's admission checklist for `customer_type`, or (None, Param)
    when the type needs no admission (S01 L251: 零售客户、内部关联交易客户)."""
    param = policy.get("admission.checklists")
    for checklist in param.value:
        if customer_type in checklist["customer_types"]:
            return checklist, param
    return None, param


def application_create(user, data: dict, request=None) -> AdmissionApplication:
    """Opens an application under the pack's checklist for its customer type (items, investigation
    stages, report fields, approval chain and set-up steps are copied with their citations). Refused:
    a type without admission (create the file directly), a blacklisted candidate (same 统一社会信用代码,
    身份证号 or name; code "blacklisted"), one already in the database, one with an open application."""
    require(user, perms.GRADING_ADMIT)
    data = dict(data or {})
    cleaned, errors = _clean_applicant(data)
    department = _department_for(user, data.get("department"), errors)
    checklist = None
    if not errors:
        checklist, param = checklist_for(cleaned["customer_type"])
        if checklist is None:
            message = _("该类客户不适用准入制度，请直接在客户档案中建档")
            raise Invalid(message, code="admission_not_required", details={"fields": {"customer_type": [message]}, "source": param.source})
    answers, answer_errors = _clean_answers(data.get("answers"), checklist["report_fields"] if checklist else [])
    errors.update(answer_errors)
    if errors:
        raise Invalid(_("申请资料有误，请按提示修改"), details={"fields": errors})
    with transaction.atomic():
        _check_candidate(cleaned, department)
        application = AdmissionApplication(
            checklist_key=checklist["key"],
            checklist_label=checklist["label"],
            checklist_source=checklist["source"],
            stages=checklist["stages"],
            chain=checklist["approval_chain"],
            chain_source=checklist["approval_source"],
            report_fields=checklist["report_fields"],
            answers=answers,
            pack_version_id=param.version_id,
            owner=user,
            department=department,
            **cleaned,
            name_key=validation.name_key(cleaned["name"]),
        )
        try:
            with transaction.atomic():
                application.save()
        except IntegrityError:
            raise Conflict(_("该客户已有进行中的准入申请"), code="application_open") from None
        ChecklistItem.objects.bulk_create(
            ChecklistItem(
                application=application, position=index, key=item["key"], label=item["label"], label_en=item.get("label_en", ""),
                source=item["source"], evidence_required=item["evidence_required"], evidence_hint=item.get("evidence_hint", ""),
            )
            for index, item in enumerate(checklist["items"])
        )
        SetupStep.objects.bulk_create(
            SetupStep(application=application, position=index, key=step["key"], label=step["label"], label_en=step.get("label_en", ""), source=step["source"])
            for index, step in enumerate(checklist["setup_steps"])
        )
        audit.record(user, "admission.create", application, {"name": application.name, "checklist": checklist["key"], "source": checklist["source"]}, request=request)
    return application


def application_update(user, application_id, data: dict, expected_version: int, request=None) -> AdmissionApplication:
    """Changes the candidate's data or the report texts of a draft (optimistic locking)."""
    data = dict(data or {})
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise Invalid(_("不能在此修改的字段：%(fields)s") % {"fields": ", ".join(unknown)}, details={"fields": {f: [_("不能在此修改")] for f in unknown}})
    with transaction.atomic():
        application = _locked_draft(user, application_id, expected_version)
        merged = {f: getattr(application, f) for f in (*APPLICANT_FIELDS, *CONTACT_FIELDS, "note")} | data
        if merged["customer_type"] != application.customer_type:
            checklist, _param = checklist_for(merged["customer_type"])
            if checklist is None or checklist["key"] != application.checklist_key:
                message = _("不能改为另一准入清单的客户类型；请撤回后重新申请")
                raise Invalid(message, details={"fields": {"customer_type": [message]}})
        cleaned, errors = _clean_applicant(merged)
        answers = application.answers
        if "answers" in data:
            answers, answer_errors = _clean_answers({**application.answers, **(data["answers"] or {})}, application.report_fields)
            errors.update(answer_errors)
        if errors:
            raise Invalid(_("申请资料有误，请按提示修改"), details={"fields": errors})
        changed = sorted(f for f, v in cleaned.items() if getattr(application, f) != v) + (["answers"] if answers != application.answers else [])
        if not changed:
            return application
        if {"name", "credit_code", "id_number"} & set(changed):
            _check_candidate(cleaned, application.department, exclude_application=application.pk)
        try:
            with transaction.atomic():
                AdmissionApplication.objects.filter(pk=application.pk).update(
                    **cleaned, answers=answers, name_key=validation.name_key(cleaned["name"]), version=F("version") + 1, updated_at=timezone.now()
                )
        except IntegrityError:
            raise Conflict(_("该客户已有进行中的准入申请"), code="application_open") from None
        audit.record(user, "admission.update", application, {"fields": changed}, request=request)
        application.refresh_from_db()
    return application


def item_check(user, application_id, item_key: str, met: bool | None, note: str = "", expected_version: int | None = None, request=None) -> ChecklistItem:
    """Marks one condition as met (True), not met (False) or unchecked (None), with a note."""
    note = _text(note, TEXT_MAX // 2, "note")
    if met not in (True, False, None):
        raise Invalid(_("请选择是否满足"), details={"fields": {"met": [_("请选择是否满足")]}})
    with transaction.atomic():
        application = _locked_draft(user, application_id, expected_version)
        item = application.items.filter(key=item_key).first()
        if item is None:
            raise NotFound(_("准入条件不存在：%(key)s") % {"key": str(item_key)[:40]})
        ChecklistItem.objects.filter(pk=item.pk).update(met=met, note=note, checked_by=user, checked_at=timezone.now())
        _touch(application)
        audit.record(user, "admission.item", application, {"item": item.key, "met": met, "note": note, "source": item.source}, request=request)
        item.refresh_from_db()
    return item


def evidence_add(user, application_id, item_key: str, title: str, file, request=None) -> Evidence:
    """Attaches a supporting document to one condition of a draft."""
    title = _text(title, 200, "title")
    errors = {}
    if not title:
        errors["title"] = [_("标题不能为空")]
    limit = settings.ZHIDU_DOCUMENT_MAX_BYTES
    if file is None:
        errors["file"] = [_("请选择文件")]
    elif not file.size:
        errors["file"] = [_("文件为空")]
    elif file.size > limit:
        errors["file"] = [_("文件过大：上限 %(limit)s MB") % {"limit": round(limit / 1024 / 1024, 1)}]
    if errors:
        raise Invalid(_("证明文件有误"), details={"fields": errors})
    with transaction.atomic():
        application = _locked_draft(user, application_id, None)
        item = application.items.filter(key=item_key).first()
        if item is None:
            raise NotFound(_("准入条件不存在：%(key)s") % {"key": str(item_key)[:40]})
        evidence = Evidence.objects.create(application=application, item=item, title=title, file=file, uploaded_by=user)
        _touch(application)
        audit.record(user, "admission.evidence_add", application, {"item": item.key, "evidence_id": evidence.pk, "title": title}, request=request)
    return evidence


def evidence_remove(user, application_id, evidence_id, request=None) -> None:
    with transaction.atomic():
        application = _locked_draft(user, application_id, None)
        evidence = application.evidence.filter(pk=evidence_id).first()
        if evidence is None:
            raise NotFound(_("证明文件不存在"))
        evidence.file.delete(save=False)
        evidence.delete()
        _touch(application)
        audit.record(user, "admission.evidence_remove", application, {"evidence_id": int(evidence_id)}, request=request)


def investigation_record(user, application_id, stage: str, data: dict, request=None) -> Investigation:
    """Records an investigation of one stage. Stages follow the pack's order: a stage is recorded only
    after every earlier stage has a passing record (S04: 一般调查 before 实地调查)."""
    data = dict(data or {})
    errors = {}
    investigators = _text(data.get("investigators"), 300, "investigators", errors)
    findings = _text(data.get("findings"), 4000, "findings", errors)
    conclusion = data.get("conclusion")
    conducted_on = _date(data.get("conducted_on"), "conducted_on", errors)
    if not investigators:
        errors.setdefault("investigators", [_("请填写调查人员")])
    if not findings:
        errors.setdefault("findings", [_("请填写调查情况")])
    if conclusion not in Investigation.Conclusion.values:
        errors["conclusion"] = [_("请选择调查结论")]
    if conducted_on and conducted_on > timezone.localdate():
        errors["conducted_on"] = [_("调查日期不能晚于今天")]
    with transaction.atomic():
        application = _locked_draft(user, application_id, None)
        stages = application.stages
        index = next((i for i, s in enumerate(stages) if s["key"] == stage), None)
        if index is None:
            raise NotFound(_("调查阶段不存在：%(key)s") % {"key": str(stage)[:40]})
        if errors:
            raise Invalid(_("调查记录有误，请按提示修改"), details={"fields": errors})
        passed = _passed_stages(application)
        for earlier in stages[:index]:
            if earlier["key"] not in passed:
                raise Conflict(
                    _("须先完成“%(earlier)s”并得出符合的结论，才能记录“%(stage)s”") % {"earlier": earlier["label"], "stage": stages[index]["label"]},
                    code="stage_order",
                    details={"missing_stage": earlier["key"], "source": earlier["source"]},
                )
        record = Investigation.objects.create(
            application=application, stage=stage, stage_label=stages[index]["label"], conducted_on=conducted_on,
            investigators=investigators, findings=findings, conclusion=conclusion, recorded_by=user,
        )
        _touch(application)
        audit.record(user, "admission.investigation", application,
                     {"stage": stage, "conclusion": conclusion, "investigation_id": record.pk, "source": stages[index]["source"]}, request=request)
    return record


def missing_for_submission(application: AdmissionApplication) -> list[dict]:
    """What still keeps a draft from being submitted: [{kind, key, label, message, source}], in checklist
    order: conditions not met, evidence missing, investigation stages without a passing record, report
    texts left empty. Empty when the application is complete."""
    missing = []
    evidence_counts = dict(
        Evidence.objects.filter(application=application).values("item_id").annotate(n=Count("id")).values_list("item_id", "n")
    )
    for item in application.items.all():
        if item.met is not True:
            message = _("未满足：%(label)s") % {"label": item.label} if item.met is False else _("未确认：%(label)s") % {"label": item.label}
            missing.append({"kind": "item", "key": item.key, "label": item.label, "message": message, "source": item.source})
        elif item.evidence_required and not evidence_counts.get(item.pk):
            missing.append({"kind": "evidence", "key": item.key, "label": item.label,
                            "message": _("缺少证明文件：%(label)s") % {"label": item.label}, "source": item.source})
    passed = _passed_stages(application)
    for stage in application.stages:
        if stage["key"] not in passed:
            missing.append({"kind": "stage", "key": stage["key"], "label": stage["label"],
                            "message": _("缺少调查记录（结论为符合）：%(label)s") % {"label": stage["label"]}, "source": stage["source"]})
    for field in application.report_fields:
        if not (application.answers or {}).get(field["key"]):
            missing.append({"kind": "report", "key": field["key"], "label": field["label"],
                            "message": _("申请报告缺少：%(label)s") % {"label": field["label"]}, "source": field["source"]})
    return missing


def application_submit(user, application_id, expected_version: int | None = None, request=None) -> AdmissionApplication:
    """Submits a complete draft for approval along the chain the pack names. Refused with every missing
    item named (code "checklist_incomplete"), or when the candidate is blacklisted or already a customer."""
    with transaction.atomic():
        application = _locked_draft(user, application_id, expected_version)
        missing = missing_for_submission(application)
        if missing:
            raise Invalid(
                _("准入条件尚未齐备，不能提交：%(items)s") % {"items": "；".join(m["message"] for m in missing)},
                code="checklist_incomplete",
                details={"missing": missing},
            )
        _check_candidate(_identity(application), application.department, exclude_application=application.pk)
        approval = approvals.start(
            ADMISSION_KIND,
            application,
            user,
            application.chain,
            chain_source=application.chain_source,
            title=_("客户准入：%(name)s") % {"name": application.name},
            payload={"application_id": application.pk, "checklist": application.checklist_key},
        )
        AdmissionApplication.objects.filter(pk=application.pk).update(
            state=AdmissionState.SUBMITTED, approval=approval, submitted_at=timezone.now(), version=F("version") + 1, updated_at=timezone.now()
        )
        audit.record(user, "admission.submit", application, {"approval_id": approval.pk, "chain": application.chain, "source": application.chain_source}, request=request)
        application.refresh_from_db()
    return application


def application_decide(user, application_id, approve: bool, reasons=None, expected_version: int | None = None, request=None) -> AdmissionApplication:
    """The approver of the current step decides. Approval of the last step admits the customer (入库):
    the customer file is created with its code. A rejection needs at least one reason; the applicant may
    then re-apply."""
    reasons = _reasons(reasons, required=not approve)
    with transaction.atomic():
        application = _application_for_update(user, application_id, approver=True)
        if expected_version is not None and application.version != expected_version:
            raise Conflict(_("该申请已被他人修改，请刷新后重试"), code="stale_version", details={"current_version": application.version})
        if application.state != AdmissionState.SUBMITTED or application.approval_id is None:
            raise Conflict(_("该申请不在审批中"), code="not_submitted", details={"state": application.state})
        approvals.decide(application.approval_id, user, approve, "；".join(reasons))
        if not approve:
            AdmissionApplication.objects.filter(pk=application.pk).update(rejection_reasons=reasons)
        application.refresh_from_db()
    return application


def on_application_approved(approval) -> None:
    """Final approval: the candidate enters the database. The customer file is created (with its code,
    status 已准入) by zhidu.customers.services.customer_create as the applicant; a checklist with
    `initial_lowest_grade` gives the lowest grade (S01: 合格)."""
    from zhidu.customers import services as customer_services

    application = AdmissionApplication.objects.select_for_update().get(pk=int(approval.target_id))
    approver = _last_decider(approval)
    _check_candidate(_identity(application), application.department, exclude_application=application.pk, for_approval=True)
    data = {
        **_identity(application),
        "legal_representative": application.legal_representative,
        "address": application.address,
        "region": application.region,
        "industry": application.industry,
        "status": "admitted",
        "owner": application.owner,
        "department": application.department,
    }
    contacts = [{"name": application.contact_name, "phone": application.contact_phone, "is_primary": True}] if application.contact_name else []
    customer = customer_services.customer_create(application.owner, data, contacts=contacts, confirm_duplicates=True)
    AdmissionApplication.objects.filter(pk=application.pk).update(
        state=AdmissionState.APPROVED, customer=customer, decided_by=approver, decided_at=timezone.now(), version=F("version") + 1, updated_at=timezone.now()
    )
    checklist, param = checklist_for(application.customer_type)
    grade = None
    if checklist and checklist.get("initial_lowest_grade"):
        grade = _assign_lowest_grade(customer, approver, _("准入后定位为最低等级"), param.source)
    audit.record(approver, "admission.approved", application,
                 {"customer_id": customer.pk, "code": customer.code, "grade": grade, "approval_id": approval.pk, "source": application.chain_source})


def on_application_rejected(approval) -> None:
    application = AdmissionApplication.objects.select_for_update().get(pk=int(approval.target_id))
    approver = _last_decider(approval)
    decision = approval.decisions.order_by("-id").first()
    reasons = [decision.comment] if decision and decision.comment else []
    AdmissionApplication.objects.filter(pk=application.pk).update(
        state=AdmissionState.REJECTED, rejection_reasons=reasons, decided_by=approver, decided_at=timezone.now(), version=F("version") + 1, updated_at=timezone.now()
    )
    audit.record(approver, "admission.rejected", application, {"reasons": reasons, "approval_id": approval.pk})


def application_withdraw(user, application_id, reason: str = "", request=None) -> AdmissionApplication:
    """The applicant withdraws a draft or a submitted application (its approval request is cancelled)."""
    reason = _text(reason, 300, "reason")
    with transaction.atomic():
        application = _application_for_update(user, application_id)
        if application.owner_id != user.pk:
            raise Forbidden(_("只有申请人可以撤回申请"))
        if not application.is_open:
            raise Conflict(_("该申请已处理完毕"), code="not_open", details={"state": application.state})
        if application.state == AdmissionState.SUBMITTED and application.approval_id:
            approvals.cancel(application.approval_id, user)
        AdmissionApplication.objects.filter(pk=application.pk).update(state=AdmissionState.WITHDRAWN, version=F("version") + 1, updated_at=timezone.now())
        audit.record(user, "admission.withdraw", application, {"reason": reason}, request=request)
        application.refresh_from_db()
    return application


def application_reapply(user, application_id, request=None) -> AdmissionApplication:
    """Opens a new draft from a rejected or withdrawn application: the candidate's data and report texts
    are copied; the checklist, investigations and evidence start afresh under the pack in force now."""
    with transaction.atomic():
        previous = _application_for_update(user, application_id)
        if previous.state not in (AdmissionState.REJECTED, AdmissionState.WITHDRAWN):
            raise Conflict(_("只有被驳回或已撤回的申请可以重新申请"), code="not_rejected", details={"state": previous.state})
        data = {f: getattr(previous, f) for f in (*APPLICANT_FIELDS, *CONTACT_FIELDS, "note")}
        data["answers"] = previous.answers
        data["department"] = previous.department_id
        application = application_create(user, data, request=request)
        AdmissionApplication.objects.filter(pk=application.pk).update(previous=previous)
        application.previous = previous
        audit.record(user, "admission.reapply", application, {"previous_id": previous.pk}, request=request)
    return application


def setup_step_done(user, application_id, step_key: str, done_on=None, note: str = "", request=None) -> SetupStep:
    """Records a set-up step of an admitted candidate as done (S04: contracts signed, departments told …)."""
    errors = {}
    note = _text(note, 500, "note", errors)
    done_on = _date(done_on, "done_on", errors) if done_on not in (None, "") else timezone.localdate()
    if done_on and done_on > timezone.localdate():
        errors["done_on"] = [_("完成日期不能晚于今天")]
    if errors:
        raise Invalid(_("设立步骤资料有误"), details={"fields": errors})
    with transaction.atomic():
        application = _application_for_update(user, application_id)
        require(user, perms.GRADING_ADMIT)
        if application.state != AdmissionState.APPROVED:
            raise Conflict(_("准入批准后才能办理设立步骤"), code="not_approved", details={"state": application.state})
        step = application.setup_steps.filter(key=step_key).first()
        if step is None:
            raise NotFound(_("设立步骤不存在：%(key)s") % {"key": str(step_key)[:40]})
        SetupStep.objects.filter(pk=step.pk).update(done_on=done_on, note=note, done_by=user)
        _touch(application)
        audit.record(user, "admission.setup_step", application, {"step": step.key, "done_on": done_on, "source": step.source}, request=request)
        step.refresh_from_db()
    return step


# ---------------------------------------------------------------- blacklist


def blacklist_add(user, customer_id, scope: str, reason: str, *, department=None, valid_until=None, request=None) -> BlacklistEntry:
    """Puts a customer on the company list (permission grading.blacklist_company: S01 营销事业部) or on a
    department's list (grading.blacklist, for the user's own department or one inside their scope). A
    department listing runs for the pack's `admission.blacklist.department_months` from today and may be
    shortened, never lengthened; a company listing is indefinite unless the pack gives months."""
    from zhidu.customers.selectors import customers_visible

    errors = {}
    reason = _text(reason, TEXT_MAX, "reason", errors)
    if not reason:
        errors["reason"] = [_("请填写列入原因")]
    if scope not in BlacklistScope.values:
        errors["scope"] = [_("请选择公司黑名单或部门黑名单")]
    valid_until = _date(valid_until, "valid_until", errors) if valid_until not in (None, "") else None
    if errors.get("scope"):
        raise Invalid(_("黑名单资料有误，请按提示修改"), details={"fields": errors})
    target_department = _blacklist_authority(user, scope, department, errors)
    months_param = policy.get("admission.blacklist.company_months" if scope == BlacklistScope.COMPANY else "admission.blacklist.department_months")
    today = timezone.localdate()
    longest = _add_months(today, months_param.value) if months_param.value else None
    if valid_until is not None:
        if valid_until < today:
            errors["valid_until"] = [_("有效期不能早于今天")]
        elif longest and valid_until > longest:
            errors["valid_until"] = [_("有效期最长 %(months)d 个月（至 %(date)s），只可缩短（依据：%(source)s）")
                                     % {"months": months_param.value, "date": longest.isoformat(), "source": months_param.source}]
    else:
        valid_until = longest
    if errors:
        raise Invalid(_("黑名单资料有误，请按提示修改"), details={"fields": errors})
    with transaction.atomic():
        try:
            customer_id = int(customer_id)
        except (TypeError, ValueError):
            raise NotFound(_("客户不存在")) from None
        customer = customers_visible(user).select_for_update(of=("self",)).filter(pk=customer_id).first()
        if customer is None:
            raise NotFound(_("客户不存在"))
        same = BlacklistEntry.objects.filter(customer=customer, scope=scope, state__in=BLOCKING_STATES)
        if scope == BlacklistScope.DEPARTMENT:
            same = same.filter(department=target_department)
        if same.exists():
            raise Conflict(_("该客户已在此黑名单中"), code="already_listed")
        entry = BlacklistEntry(
            scope=scope, department=target_department, customer=customer, name=customer.name, name_key=customer.name_key or validation.name_key(customer.name),
            credit_code=customer.credit_code, id_number=customer.id_number, reason=reason, citation=str(months_param.source)[:300],
            pack_version_id=months_param.version_id, listed_by=user, listed_on=today, valid_until=valid_until,
        )
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:
            raise Conflict(_("该客户已在此黑名单中"), code="already_listed") from None
        audit.record(user, "blacklist.add", entry, {"customer_id": customer.pk, "scope": scope, "department_id": entry.department_id,
                                                     "reason": reason, "valid_until": valid_until, "source": entry.citation}, request=request)
        if scope == BlacklistScope.COMPANY:
            _notify_company_listing(entry)
    return entry


def blacklist_lift(user, entry_id, reason: str, expected_version: int | None = None, request=None) -> BlacklistEntry:
    """Ends a listing's period early (S01 L315: 如有特殊情况可适当缩短有效期), by the list's authority. The
    customer stays excluded until a re-entry is approved."""
    errors = {}
    reason = _text(reason, TEXT_MAX, "reason", errors)
    if not reason:
        errors["reason"] = [_("请填写原因")]
    if errors:
        raise Invalid(_("请填写原因"), details={"fields": errors})
    with transaction.atomic():
        entry = _entry_for_update(user, entry_id, expected_version)
        if entry.state != BlacklistState.ACTIVE:
            raise Conflict(_("该黑名单记录已不在有效期内"), code="not_active", details={"state": entry.state})
        BlacklistEntry.objects.filter(pk=entry.pk).update(
            state=BlacklistState.LIFTED, valid_until=timezone.localdate(), ended_at=timezone.now(), ended_by=user, end_reason=reason, version=F("version") + 1
        )
        audit.record(user, "blacklist.lift", entry, {"reason": reason, "customer_id": entry.customer_id}, request=request)
        entry.refresh_from_db()
    return entry


def blacklist_expire(now=None) -> int:
    """Ends the period of every listing past its last valid day, in one UPDATE. Returns the rows changed."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    changed = BlacklistEntry.objects.filter(state=BlacklistState.ACTIVE, valid_until__lt=today).update(
        state=BlacklistState.EXPIRED, ended_at=now, version=F("version") + 1
    )
    if changed:
        audit.record(None, "blacklist.expire", ("admission.blacklistentry", "*"), {"count": changed, "date": today})
    return changed


def reentry_request(user, entry_id, review: str, request=None) -> ReentryRequest:
    """Asks for a listed customer to re-enter the customer list after a review (S01 L315): allowed once a
    department listing's period has ended (pack `admission.blacklist.reentry_after_expiry`), at any time
    for the company list; approved along the pack's chain for that list; the customer returns at the
    lowest grade."""
    errors = {}
    review = _text(review, 2000, "review", errors)
    if not review:
        errors["review"] = [_("请填写评审意见（客户情况的重大变化及是否符合准入条件）")]
    if errors:
        raise Invalid(_("请填写评审意见"), details={"fields": errors})
    with transaction.atomic():
        entry = _entry_for_update(user, entry_id, None)
        if entry.state == BlacklistState.READMITTED:
            raise Conflict(_("该客户已重新准入"), code="readmitted")
        after_expiry = policy.get("admission.blacklist.reentry_after_expiry")
        if entry.scope == BlacklistScope.DEPARTMENT and after_expiry.value and entry.state == BlacklistState.ACTIVE:
            raise Conflict(
                _("部门黑名单有效期（至 %(date)s）届满后方可申请重新准入（依据：%(source)s）")
                % {"date": entry.valid_until.isoformat() if entry.valid_until else "—", "source": after_expiry.source},
                code="still_in_force",
            )
        if entry.reentries.filter(state=ReentryRequest.State.PENDING).exists():
            raise Conflict(_("该记录已有待审批的重新准入申请"), code="reentry_pending")
        chain = policy.get(f"admission.blacklist.reentry_chain.{entry.scope}")
        reentry = ReentryRequest.objects.create(entry=entry, review=review, requested_by=user)
        approval = approvals.start(
            REENTRY_KIND, reentry, user, chain, title=_("黑名单客户重新准入：%(name)s") % {"name": entry.name},
            payload={"entry_id": entry.pk, "scope": entry.scope},
        )
        ReentryRequest.objects.filter(pk=reentry.pk).update(approval=approval)
        reentry.approval = approval
        audit.record(user, "blacklist.reentry_request", entry, {"reentry_id": reentry.pk, "approval_id": approval.pk, "chain": chain.value, "source": chain.source}, request=request)
    return reentry


def reentry_decide(user, reentry_id, approve: bool, comment: str = "", request=None) -> ReentryRequest:
    comment = _text(comment, 500, "comment")
    if not approve and not comment:
        raise Invalid(_("驳回须写明理由"), details={"fields": {"comment": [_("驳回须写明理由")]}})
    from .selectors import blacklist_visible

    reentry = ReentryRequest.objects.filter(pk=_int(reentry_id) or 0, entry__in=blacklist_visible(user)).first()
    if reentry is None or reentry.approval_id is None:
        raise NotFound(_("重新准入申请不存在"))
    if reentry.state != ReentryRequest.State.PENDING:
        raise Conflict(_("该申请已处理完毕"), code="not_pending", details={"state": reentry.state})
    approvals.decide(reentry.approval_id, user, approve, comment)
    reentry.refresh_from_db()
    return reentry


def on_reentry_approved(approval) -> None:
    reentry = ReentryRequest.objects.select_for_update().select_related("entry__customer").get(pk=int(approval.target_id))
    entry = reentry.entry
    approver = _last_decider(approval)
    source = policy.get(f"admission.blacklist.reentry_chain.{entry.scope}").source
    grade = _assign_lowest_grade(entry.customer, approver, _("黑名单客户经评审审批重新准入，定位为最低等级"), source)
    now = timezone.now()
    BlacklistEntry.objects.filter(pk=entry.pk).update(
        state=BlacklistState.READMITTED, ended_at=now, ended_by=approver, end_reason=reentry.review[:1000], version=F("version") + 1
    )
    ReentryRequest.objects.filter(pk=reentry.pk).update(state=ReentryRequest.State.APPROVED, decided_at=now, grade=grade or "", decision_comment=_last_comment(approval))
    audit.record(approver, "blacklist.readmitted", entry, {"reentry_id": reentry.pk, "customer_id": entry.customer_id, "grade": grade, "source": source})


def on_reentry_rejected(approval) -> None:
    reentry = ReentryRequest.objects.select_for_update().get(pk=int(approval.target_id))
    ReentryRequest.objects.filter(pk=reentry.pk).update(state=ReentryRequest.State.REJECTED, decided_at=timezone.now(), decision_comment=_last_comment(approval))
    audit.record(_last_decider(approval), "blacklist.reentry_rejected", reentry.entry, {"reentry_id": reentry.pk, "comment": _last_comment(approval)})


def register_approval_handlers() -> None:
    """Called from AdmissionConfig.ready."""
    approvals.register(ADMISSION_KIND, on_approved=on_application_approved, on_rejected=on_application_rejected)
    approvals.register(REENTRY_KIND, on_approved=on_reentry_approved, on_rejected=on_reentry_rejected)


# ---------------------------------------------------------------- helpers


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value, limit: int, field: str, errors: dict | None = None) -> str:
    text = "" if value is None else str(value).replace("\x00", "").strip()  # PostgreSQL cannot store NUL
    if len(text) > limit:
        message = _("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": limit, "length": len(text)}
        if errors is None:
            raise Invalid(message, details={"fields": {field: [message]}})
        errors[field] = [message]
        return text[:limit]
    return text


def _date(value, field: str, errors: dict):
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        errors[field] = [_("请填写日期（年-月-日）")]
        return None


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, pycalendar.monthrange(year, month)[1]))


def _reasons(reasons, *, required: bool) -> list[str]:
    if isinstance(reasons, str):
        reasons = [line for line in reasons.splitlines()]
    cleaned = [str(r).strip()[:300] for r in (reasons or []) if str(r).strip()]
    if required and not cleaned:
        raise Invalid(_("驳回须写明理由"), code="reasons_required", details={"fields": {"reasons": [_("驳回须写明理由")]}})
    if len("；".join(cleaned)) > 500:
        raise Invalid(_("理由合计不能超过 500 个字符"), details={"fields": {"reasons": [_("理由合计不能超过 500 个字符")]}})
    return cleaned


def _clean_applicant(data: dict) -> tuple[dict, dict]:
    contacts = [{"name": data.get("contact_name")}] if data.get("contact_name") else []
    cleaned, errors = validation.validate_customer_data(
        {f: data.get(f) for f in APPLICANT_FIELDS} | {"contacts": contacts}, customer_type_cfg=validation.customer_types()
    )
    result = {f: cleaned.get(f, "") for f in APPLICANT_FIELDS}
    result["contact_name"] = _text(data.get("contact_name"), 60, "contact_name", errors)
    phone = _text(data.get("contact_phone"), 20, "contact_phone", errors)
    if phone:
        try:
            phone = validation.validate_phone(phone)
        except ValidationError as exc:
            errors["contact_phone"] = exc.messages
    result["contact_phone"] = phone
    result["note"] = _text(data.get("note"), TEXT_MAX, "note", errors)
    return result, errors


def _clean_answers(answers, fields: list[dict]) -> tuple[dict, dict]:
    answers = answers or {}
    errors = {}
    if not isinstance(answers, dict):
        return {}, {"answers": [_("申请报告格式不正确")]}
    known = {f["key"] for f in fields}
    unknown = sorted(set(answers) - known)
    if unknown:
        errors["answers"] = [_("未知的申请报告项目：%(keys)s") % {"keys": ", ".join(str(k)[:40] for k in unknown)}]
    cleaned = {}
    for key in known:
        text = _text(answers.get(key), 2000, f"answers.{key}", errors)
        if text:
            cleaned[key] = text
    return cleaned, errors


def _department_for(user, department, errors):
    from zhidu.customers.services import _department_in_scope
    from zhidu.org.models import Department

    if department in (None, ""):
        if user.department_id is None:
            errors["department"] = [_("您没有所属部门，请指定部门")]
        return user.department
    department_id = getattr(department, "pk", department)
    found = Department.objects.filter(pk=_int(department_id)).first()
    if found is None:
        errors["department"] = [_("部门不存在")]
    elif user_scope(user) != DataScope.ALL and not _department_in_scope(user, found):
        errors["department"] = [_("该部门不在您的数据范围内")]
    return found


def _identity(application) -> dict:
    return {"customer_type": application.customer_type, "name": application.name, "credit_code": application.credit_code, "id_number": application.id_number}


def _check_candidate(cleaned: dict, department, *, exclude_application=None, for_approval: bool = False) -> None:
    """Blacklisted (company list, or the department's list; by 统一社会信用代码, 身份证号 or name), already in
    the database, or with another open application: refused."""
    from zhidu.customers.models import Customer

    name_key = validation.name_key(cleaned["name"])
    entry = blacklist_entries_in_force(
        credit_code=cleaned.get("credit_code", ""), id_number=cleaned.get("id_number", ""), name_key=name_key, department=department
    ).first()
    if entry is not None:
        raise blacklisted_error(entry)
    identifiers = Q(pk__in=[])
    if cleaned.get("credit_code"):
        identifiers |= Q(credit_code=cleaned["credit_code"])
    if cleaned.get("id_number"):
        identifiers |= Q(id_number=cleaned["id_number"])
    existing = Customer.objects.filter(identifiers).values("id", "code").first()
    if existing:
        raise Conflict(_("该客户已入库（客户编码 %(code)s），无需再次准入") % {"code": existing["code"] or "—"}, code="already_customer")
    if not for_approval and identifiers:
        others = AdmissionApplication.objects.filter(state__in=OPEN_STATES).filter(identifiers)
        if exclude_application:
            others = others.exclude(pk=exclude_application)
        if others.exists():
            raise Conflict(_("该客户已有进行中的准入申请"), code="application_open")


def _passed_stages(application) -> set[str]:
    return set(application.investigations.filter(conclusion=Investigation.Conclusion.PASS).values_list("stage", flat=True))


def _application_for_update(user, application_id, *, approver: bool = False) -> AdmissionApplication:
    from .selectors import applications_visible

    application_id = _int(application_id)
    qs = applications_visible(user, for_approval=approver)
    application = qs.select_for_update(of=("self",)).filter(pk=application_id).first() if application_id else None
    if application is None:
        raise NotFound(_("准入申请不存在"))
    return application


def _locked_draft(user, application_id, expected_version) -> AdmissionApplication:
    require(user, perms.GRADING_ADMIT)
    application = _application_for_update(user, application_id)
    if expected_version is not None and application.version != expected_version:
        raise Conflict(_("该申请已被他人修改，请刷新后重试"), code="stale_version",
                       details={"current_version": application.version, "expected_version": expected_version})
    if application.state != AdmissionState.DRAFT:
        raise Conflict(_("申请已提交或已处理，不能修改"), code="not_draft", details={"state": application.state})
    return application


def _touch(application) -> None:
    AdmissionApplication.objects.filter(pk=application.pk).update(version=F("version") + 1, updated_at=timezone.now())
    application.version += 1


def _last_decider(approval):
    decision = approval.decisions.select_related("decided_by").order_by("-id").first()
    return decision.decided_by if decision else None


def _last_comment(approval) -> str:
    decision = approval.decisions.order_by("-id").first()
    return decision.comment if decision else ""


def _assign_lowest_grade(customer, actor, reason, citation):
    """Gives the customer the pack's lowest grade through the grading app (S01: 合格); returns its key,
    or None when the grading app is not installed."""
    from django.apps import apps

    if not apps.is_installed("zhidu.grading"):
        return None
    from zhidu.grading import selectors as grading_selectors
    from zhidu.grading import services as grading_services

    key = grading_selectors.lowest_grade_key()
    grading_services.grade_assign(customer, key, actor=actor, reason=str(reason), citation=str(citation))
    return key


def _blacklist_authority(user, scope, department, errors):
    """The department a listing is for, after checking the user may keep that list."""
    if scope == BlacklistScope.COMPANY:
        require(user, perms.GRADING_BLACKLIST_COMPANY)
        return None
    require(user, perms.GRADING_BLACKLIST)
    if department in (None, ""):
        if user.department_id is None:
            raise Invalid(_("您没有所属部门，不能列入部门黑名单"), details={"fields": {"department": [_("请指定部门")]}})
        return user.department
    found = _department_for(user, department, errors)
    if errors.get("department"):
        raise Invalid(errors["department"][0], details={"fields": errors})
    return found


def _entry_for_update(user, entry_id, expected_version) -> BlacklistEntry:
    """The entry under a row lock, when the user keeps its list; NotFound when they may not see it."""
    from .selectors import blacklist_visible

    entry = blacklist_visible(user).select_for_update(of=("self",)).filter(pk=_int(entry_id) or 0).first()
    if entry is None:
        raise NotFound(_("黑名单记录不存在"))
    _blacklist_authority(user, entry.scope, entry.department_id, {})
    if expected_version is not None and entry.version != expected_version:
        raise Conflict(_("该记录已被他人修改，请刷新后重试"), code="stale_version", details={"current_version": entry.version})
    return entry


def _notify_company_listing(entry) -> None:
    from django.contrib.auth import get_user_model

    from zhidu.kernel import notify

    roles = policy.value("admission.blacklist.notify_roles")
    users = get_user_model().objects.filter(role__code__in=roles, is_active=True)
    notify.send(
        users,
        _("公司黑名单通报：%(name)s") % {"name": entry.name},
        _("该客户已列入公司客户黑名单，公司所属各部门均不得再与其发生商业行为。原因：%(reason)s") % {"reason": entry.reason},
        link="/admission/blacklist/",
        category="admission",
    )
