"""Request and response bodies of /api/v1/complaints. Outer length limits only; the services give the
exact per-field messages."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from zhidu.customers.schemas import Ref

Text = Annotated[str, Field(max_length=6000)]
ShortText = Annotated[str, Field(max_length=300)]
Key = Annotated[str, Field(max_length=40)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
BodyId = Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]
Version = Annotated[int, Field(ge=1, le=2**31, strict=True)]


class ComplaintIn(Schema):
    complainant_name: ShortText
    complainant_phone: ShortText = ""
    complainant_email: ShortText = ""
    complainant_address: ShortText = ""
    complainant_type: Key = ""
    motive: Key = ""
    customer: BodyId | None = None
    subject: ShortText
    content: Text
    incident_at: dt.datetime | None = None
    households_affected: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] | None = None
    channel: Key
    category: Key = ""
    major_reasons: Annotated[list[Key], Field(max_length=20)] = []
    subject_staff: BodyId | None = None
    subject_department: BodyId | None = None
    department: BodyId | None = None
    extra: dict | None = None


class PublicComplaintIn(Schema):
    complainant_name: ShortText
    complainant_phone: ShortText
    complainant_email: ShortText = ""
    subject: ShortText
    content: Text
    category: Key = ""
    incident_at: dt.datetime | None = None


class Versioned(Schema):
    version: Version


class ComplaintDecideIn(Versioned):
    valid: bool
    reply_text: Text = ""
    invalid_reason: Key = ""
    malicious: bool = False
    category: Key | None = None
    major_reasons: Annotated[list[Key], Field(max_length=20)] | None = None


class ClassifyIn(Versioned):
    category: Key | None = None
    major_reasons: Annotated[list[Key], Field(max_length=20)] | None = None
    households_affected: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] | None = None
    complainant_type: Key | None = None
    motive: Key | None = None


class AssignIn(Versioned):
    department: BodyId
    owner: BodyId
    note: Text = ""


class InvestigateIn(Versioned):
    cause: Text
    findings: Text = ""
    loopholes: Text = ""
    responsible_user: BodyId | None = None
    responsible_department: BodyId | None = None
    penalty_amount: Decimal | None = Field(None, ge=0, le=10_000_000)


class RemedyIn(Versioned):
    description: Text
    compensation: Decimal = Field(Decimal("0"), ge=0, le=10_000_000_000)


class NoteIn(Versioned):
    note: Text


class OptionalNoteIn(Versioned):
    note: Text = ""


class InformIn(Versioned):
    message: Text


class ReturnVisitIn(Versioned):
    satisfied: bool
    note: Text = ""


class ReopenIn(Versioned):
    reason: Text


class ReportIn(Versioned):
    kind: Literal["post_handling", "major_warning"]
    text: Text


class ExtensionIn(Versioned):
    amount: Annotated[int, Field(ge=1, le=10000, strict=True)]
    reason: Text


class CloseIn(Versioned):
    summary: Text
    corrective_actions: Text = ""
    preventive_actions: Text = ""


class PenaltyIn(Schema):
    staff: BodyId
    amount: Decimal | None = Field(None, ge=0, le=10_000_000)
    reason: ShortText = ""


class ApprovalDecisionIn(Schema):
    approve: bool
    comment: ShortText = ""
    version: Version | None = None


class ComplaintRow(Schema):
    id: int
    tracking_no: str
    status: str
    status_label: str
    validity: str
    severity: str
    severity_label: str
    channel: str
    channel_label: str
    category: str
    category_label: str
    complainant_name: str
    complainant_phone: str
    subject: str
    customer: Ref | None
    owner: Ref | None
    receiver: Ref | None
    department: Ref | None
    priority_rank: int | None
    round: int
    waiting: bool
    overdue: bool
    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    next_due_at: dt.datetime | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    archived: bool
    version: int


class ComplaintPage(Schema):
    items: list[ComplaintRow]
    next_cursor: int | None


class EventOut(Schema):
    id: int
    at: dt.datetime
    actor: Ref | None
    kind: str
    note: str
    public: bool
    data: dict


class DeadlineOut(Schema):
    key: str
    title: str
    started_at: dt.datetime
    amount: int
    unit: str
    due_at: dt.datetime
    state: str
    breached_at: dt.datetime | None
    met_at: dt.datetime | None
    escalation_level: int
    source: str


class ComplaintInvestigationOut(Schema):
    id: int
    round: int
    cause: str
    findings: str
    loopholes: str
    responsible_user: Ref | None
    responsible_department: Ref | None
    investigated_by: Ref
    at: dt.datetime


class RemedyOut(Schema):
    id: int
    round: int
    description: str
    compensation: Decimal
    state: str
    approval: int | None
    current_role: str
    proposed_by: Ref
    created_at: dt.datetime
    decided_at: dt.datetime | None
    carried_out_at: dt.datetime | None


class ReturnVisitOut(Schema):
    id: int
    round: int
    visited_by: Ref
    role_code: str
    satisfied: bool
    note: str
    at: dt.datetime


class ExtensionOut(Schema):
    id: int
    amount: int
    unit: str
    reason: str
    state: str
    approval: int | None
    current_role: str
    requested_by: Ref
    created_at: dt.datetime
    decided_at: dt.datetime | None


class PenaltyOut(Schema):
    id: int
    complaint: int
    tracking_no: str
    staff: Ref
    amount: Decimal
    unit: str
    reason: str
    citation: str
    state: str
    approval: int | None
    current_role: str
    ledger_entry: int | None
    period: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class PenaltyPage(Schema):
    items: list[PenaltyOut]
    next_cursor: int | None


class ComplaintOut(ComplaintRow):
    access_code: str | None = None  # only in the answer to the create
    complainant_email: str
    complainant_address: str
    complainant_type: str
    motive: str
    content: str
    incident_at: dt.datetime | None
    households_affected: int | None
    extra: dict
    invalid_reason: str
    malicious: bool
    reply_text: str
    time_barred: bool
    major_reasons: list[str]
    labels: dict
    subject_staff: Ref | None
    subject_department: Ref | None
    closing_summary: str
    corrective_actions: str
    preventive_actions: str
    escalated_at: dt.datetime | None
    archived_at: dt.datetime | None
    pack_version: int | None
    actions: list[str]
    deadlines: list[DeadlineOut]
    events: list[EventOut]
    investigations: list[ComplaintInvestigationOut]
    remedies: list[RemedyOut]
    return_visits: list[ReturnVisitOut]
    extensions: list[ExtensionOut]
    penalties: list[PenaltyOut]


class ComplaintApprovalOut(Schema):
    id: int
    kind: str
    state: str
    current_step: int
    current_role: str
    version: int


class TrackEvent(Schema):
    at: dt.datetime
    kind: str
    note: str


class TrackOut(Schema):
    tracking_no: str
    status: str
    status_label: str
    subject: str
    registered_at: dt.datetime
    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    closed_at: dt.datetime | None
    reply_text: str
    events: list[TrackEvent]


class PublicCreatedOut(Schema):
    tracking_no: str
    access_code: str
    first_response_due: dt.datetime | None
