"""Request and response bodies of /api/v1/customers.

Strings have a generous outer length limit here (so an oversized payload is refused before any work);
the exact per-field limits and messages come from customers/validation.py."""

import datetime as dt
import json
from typing import Annotated

from ninja import Schema
from pydantic import Field, field_validator

Text = Annotated[str, Field(max_length=1000)]
ShortText = Annotated[str, Field(max_length=300)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]  # path and query parameters (text in the URL)
# In JSON bodies numbers must be numbers: `true` is not user 1 and not secret level 1.
BodyId = Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]
StrictInt = Annotated[int, Field(strict=True)]
EXTRA_MAX_BYTES = 20_000


def _extra_size(value):
    if value is not None and len(json.dumps(value, ensure_ascii=False, default=str)) > EXTRA_MAX_BYTES:
        raise ValueError(f"extra is larger than {EXTRA_MAX_BYTES} bytes")
    return value


class ContactIn(Schema):
    name: ShortText
    title: ShortText = ""
    phone: ShortText = ""
    email: ShortText = ""
    is_primary: bool = False


class ContactPatch(Schema):
    name: ShortText | None = None
    title: ShortText | None = None
    phone: ShortText | None = None
    email: ShortText | None = None
    is_primary: bool | None = None


class CustomerIn(Schema):
    customer_type: ShortText
    name: Text
    credit_code: ShortText = ""
    id_number: ShortText = ""
    legal_representative: Text = ""
    address: Text = ""
    region: Text = ""
    industry: Text = ""
    scale: Text = ""
    status: ShortText | None = None
    secret_level: StrictInt | None = None
    extra: dict | None = None
    code: ShortText | None = None
    owner: BodyId | None = None
    department: BodyId | None = None
    contacts: Annotated[list[ContactIn], Field(max_length=50)] = []
    confirm_duplicates: bool = False

    _extra = field_validator("extra")(_extra_size)


class CustomerPatch(Schema):
    """Only the fields sent are changed; `version` is the version the client read (409 when stale)."""

    version: Annotated[int, Field(ge=1, strict=True)]
    customer_type: ShortText | None = None
    name: Text | None = None
    credit_code: ShortText | None = None
    id_number: ShortText | None = None
    legal_representative: Text | None = None
    address: Text | None = None
    region: Text | None = None
    industry: Text | None = None
    scale: Text | None = None
    secret_level: StrictInt | None = None
    extra: dict | None = None
    confirm_duplicates: bool = False

    _extra = field_validator("extra")(_extra_size)


class StatusIn(Schema):
    status: ShortText
    reason: Text
    version: Annotated[int, Field(ge=1, strict=True)]


class ReviewIn(Schema):
    """`version` is the version the client read (409 when stale); without it the review is recorded
    on whatever version is current."""

    note: Text
    version: Annotated[int, Field(ge=1, strict=True)] | None = None


class TransferIn(Schema):
    to_owner: BodyId
    reason: Text


class HandoverIn(Schema):
    from_user: BodyId
    to_users: Annotated[list[BodyId], Field(min_length=1, max_length=50)]
    reason: Text


class AccessRequestIn(Schema):
    """`code`: the exact customer code, required for a file outside one's data scope."""

    reason: Text
    days: Annotated[int, Field(ge=1, le=366, strict=True)]
    code: ShortText | None = None


class Ref(Schema):
    id: int
    name: str


class CustomerRow(Schema):
    id: int
    code: str | None
    customer_type: str
    name: str
    credit_code: str
    id_number: str  # masked for the viewer
    region: str
    industry: str
    status: str
    secret_level: int
    owner: Ref
    department: Ref
    next_review_on: dt.date | None
    version: int
    updated_at: dt.datetime


class CustomerPage(Schema):
    items: list[CustomerRow]
    next_cursor: int | None


class ContactOut(Schema):
    id: int
    name: str
    title: str
    phone: str  # masked for the viewer
    email: str
    is_primary: bool


class DocumentOut(Schema):
    id: int
    title: str
    secret_level: int
    uploaded_at: dt.datetime


class DocumentRow(DocumentOut):
    file_name: str
    uploaded_by: Ref
    download_url: str


class DocumentPage(Schema):
    items: list[DocumentRow]
    next_cursor: int | None


class CustomerOut(CustomerRow):
    legal_representative: str
    address: str
    scale: str
    extra: dict
    created_at: dt.datetime
    contacts: list[ContactOut]
    documents: list[DocumentOut]
    via_grant: bool
    grant_until: dt.datetime | None


class TimelineOut(Schema):
    id: int
    at: dt.datetime
    actor: str | None
    kind: str
    summary: str
    changes: dict


class TimelinePage(Schema):
    items: list[TimelineOut]
    next_cursor: int | None


class HandoverOut(Schema):
    id: int
    from_user: int
    customer_count: int
    kept_count: int
    reason: str
    at: dt.datetime


class AccessRequestOut(Schema):
    id: int
    customer: int
    customer_code: str | None
    requested_by: Ref
    state: str
    days: int
    reason: str
    approval: int | None
    granted_until: dt.datetime | None
    created_at: dt.datetime


class AccessRequestPage(Schema):
    items: list[AccessRequestOut]
    next_cursor: int | None


class CountsOut(Schema):
    by_status: list[dict]
    by_type: list[dict]
    by_department: list[dict]
