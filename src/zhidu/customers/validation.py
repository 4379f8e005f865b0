"""Validation and normalisation of customer-archive data, shared by the services and the bulk import.

Public functions (stable names, used by customers/services.py and customers/importing.py):

- ``validate_credit_code(value) -> str``: 统一社会信用代码 (python-stdnum ``cn.uscc``); returns the compact,
  upper-case code; raises ``django.core.exceptions.ValidationError``.
- ``validate_id_number(value) -> str``: 居民身份证号码 (python-stdnum ``cn.ric``); same contract.
- ``normalize_phone(value) -> str | None``: a Chinese mobile or landline number as national digits
  ("13812345678", "01012345678"), or None when it is not a valid number.
- ``validate_phone(value) -> str``: the same, raising ``ValidationError`` for an invalid number.
- ``phone_reversed(phone) -> str``: the digits reversed, for the indexed "ends with" search.
- ``name_key(name) -> str``: the name without spaces, punctuation and legal-form suffixes, for duplicates.
- ``name_pinyin(name) -> str`` / ``name_initials(name) -> str``: lower-case pinyin / initials, no spaces.
- ``customer_types(types=None) -> dict[str, dict]``: the pack's ``customers.types`` keyed by type key.
- ``validate_customer_data(data, *, customer_type_cfg=None) -> (cleaned, errors)``: a whole customer
  record (see its docstring).
"""

import functools
import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from zhidu.kernel.access import SecretLevel

from .models import Customer, CustomerStatus

# The archive fields `validate_customer_data` knows; owner, department and contacts are the caller's.
TEXT_FIELDS = ("name", "credit_code", "id_number", "legal_representative", "address", "region", "industry", "scale")
CUSTOMER_FIELDS = ("customer_type", *TEXT_FIELDS, "status", "secret_level", "extra")
IDENTIFIER_KINDS = ("credit_code", "id_number", "none")

# Longest first, so "股份有限公司" goes before "有限公司" and "公司".
LEGAL_FORM_SUFFIXES = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "股份合作公司",
    "有限公司",
    "股份公司",
    "有限合伙",
    "普通合伙",
    "集团公司",
    "集团",
    "公司",
    "coltd",
    "limited",
    "ltd",
    "inc",
    "llc",
)

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# A code already in its compact form: 8 digits, then 10 characters of the code's alphabet. Such a text
# is what stdnum's compact() returns unchanged, so its check character is all that is left to test.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_PLAIN = re.compile(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}")
_USCC_INDEX = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def validate_credit_code(value) -> str:
    """Returns the compact 统一社会信用代码 (18 characters, upper case) or raises ValidationError."""
    text = value.strip() if isinstance(value, str) else _text(value)
    if _USCC_PLAIN.fullmatch(text):
        # The common case, decided as stdnum's uscc.validate decides it (length, format, check character)
        # without its per-character clean-up; tested against it.
        index = _USCC_INDEX
        total = sum(index[c] * w for c, w in zip(text, _USCC_WEIGHTS))
        if text[17] == _USCC_ALPHABET[(31 - total) % 31]:
            return text
    code = uscc.compact(text).upper()
    if not code:
        raise ValidationError(_("统一社会信用代码不能为空"), code="required")
    try:
        return uscc.validate(code)
    except StdnumError:
        raise ValidationError(_("统一社会信用代码无效：%(value)s") % {"value": code[:40]}, code="invalid") from None


def validate_id_number(value) -> str:
    """Returns the 18-character 身份证号 (check digit X upper case) or raises ValidationError."""
    number = ric.compact(_text(value)).upper()
    if not number:
        raise ValidationError(_("身份证号不能为空"), code="required")
    try:
        return ric.validate(number)
    except StdnumError:
        raise ValidationError(_("身份证号无效：%(value)s") % {"value": number[:40]}, code="invalid") from None


def _plain_mobile_pattern():
    """The CN mobile pattern of phonenumbers' own metadata. An 11-digit text starting with 13-19 (but not
    179, which the metadata strips as a carrier prefix) is parsed to exactly that national number, no other
    number type of CN matches it, and its national format keeps its digits; so it is valid exactly when
    this pattern matches (tested against the parser for every 号段)."""
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region("CN")
    return re.compile(metadata.mobile.national_number_pattern)


_PLAIN_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_PATTERN = _plain_mobile_pattern()


def normalize_phone(value) -> str | None:
    """A valid Chinese phone number as national digits: mobiles without prefix ("13812345678"),
    landlines with the trunk 0 and area code ("01012345678"); None when not a valid number."""
    text = value.strip() if isinstance(value, str) else _text(value)
    if not text or len(text) > 40:
        return None
    if _PLAIN_MOBILE.fullmatch(text) and not text.startswith("179"):
        # Most numbers in a customer file: a plain mobile number, checked without the full parser.
        return text if _MOBILE_PATTERN.fullmatch(text) else None
    return parsed_phone(text)


def parsed_phone(text: str) -> str | None:
    """The full parse of a phone number (phonenumbers): its national digits, or None when it is not a
    valid Chinese number. normalize_phone takes a shortcut for plain mobile numbers that must agree."""
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def validate_phone(value) -> str:
    """`normalize_phone`, raising ValidationError for an invalid number."""
    phone = normalize_phone(value)
    if phone is None:
        raise ValidationError(_("电话号码无效：%(value)s") % {"value": _text(value)[:40]}, code="invalid")
    return phone


def phone_reversed(phone: str) -> str:
    """The digits of `phone` reversed: "ends with 5678" becomes the indexed prefix "8765"."""
    return re.sub(r"\D", "", phone or "")[::-1]


def name_key(name) -> str:
    """The name for duplicate detection: full-width folded, lower case, no spaces or punctuation, and
    without legal-form suffixes (有限公司, 股份有限公司, 有限责任公司, 集团, 公司 ...)."""
    base = _NON_WORD.sub("", unicodedata.normalize("NFKC", _text(name)).lower())
    key = base
    while True:
        suffix = next((s for s in LEGAL_FORM_SUFFIXES if key.endswith(s)), None)
        # Stop when nothing matches or the longest match is the whole name ("有限公司" stays as it is).
        if suffix is None or len(suffix) == len(key):
            break
        key = key[: -len(suffix)]
    return key[:200]


def name_pinyin(name) -> str:
    """Full pinyin in lower case without tones or spaces ("重庆银行" -> "chongqingyinhang");
    a 多音字 takes pypinyin's default reading; letters and digits in the name are kept."""
    syllables = lazy_pinyin(unicodedata.normalize("NFKC", _text(name)), style=Style.NORMAL, errors="default")
    return _NON_ALNUM.sub("", "".join(syllables).lower())[:800]


def name_initials(name) -> str:
    """The first letter of each syllable ("重庆银行" -> "cqyh"); runs of letters or digits stay whole."""
    syllables = lazy_pinyin(unicodedata.normalize("NFKC", _text(name)), style=Style.FIRST_LETTER, errors="default")
    return _NON_ALNUM.sub("", "".join(syllables).lower())[:200]


def customer_types(types=None) -> dict[str, dict]:
    """The customer types of the applied pack (`customers.types`), keyed by type key, in pack order."""
    if types is None:
        from zhidu.kernel import policy

        types = policy.value("customers.types")
    return {t["key"]: _plain(t) for t in types}


def validate_customer_data(data: dict, *, customer_type_cfg=None) -> tuple[dict, dict[str, list[str]]]:
    """Validates one whole customer record.

    `data` holds archive fields (CUSTOMER_FIELDS) as they come from a form, the API or a spreadsheet cell:
    None and blank are "empty", numbers are read as text, `customer_type` / `status` / `secret_level` may
    be given by key or by label (e.g. "企业", "合作中", "秘密"). Keys that are not archive fields (owner,
    department, contacts ...) are not returned in `cleaned`; they only count for a pack's required_fields.

    `customer_type_cfg` is the pack's `customers.types` list (or a dict keyed by type key, as returned by
    `customer_types`), or the config of one type (a dict with "key") when the caller already looked it up;
    None reads `customers.types` from the applied pack. Importers should read it once and pass it in.

    Returns `(cleaned, errors)`: `cleaned` holds every archive field, normalised (codes upper case, the
    identifier the type does not use is ""); `errors` maps a field name to its messages (in the active
    language) and is empty when the record is valid. Checks: the type exists in the pack; the type's
    required fields are filled (a required "contacts" counts `data["contacts"]`); a type whose identifier
    is credit_code refuses a 身份证号 and vice versa (identifier "none" accepts either); every identifier
    given is valid; lengths fit the columns; status and secret level are known choices; extra is an object.
    """
    data = data or {}
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}

    def err(field, message):
        errors.setdefault(field, []).append(str(message))

    types = _types_lookup(customer_type_cfg)
    type_key = _text(data.get("customer_type"))
    type_cfg = _find_type(types, type_key)
    if not type_key:
        err("customer_type", _("客户类型不能为空"))
    elif type_cfg is None:
        err("customer_type", _("未知的客户类型：%(value)s") % {"value": type_key[:40]})
    cleaned["customer_type"] = type_cfg["key"] if type_cfg else type_key

    limits = _max_lengths()
    for field in TEXT_FIELDS:
        value = _text(data.get(field))
        limit = limits[field]
        if len(value) > limit:
            err(field, _("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": limit, "length": len(value)})
        cleaned[field] = value

    if not cleaned["name"]:
        err("name", _("客户名称不能为空"))

    identifier = (type_cfg or {}).get("identifier", "none")
    for field, validator in (("credit_code", validate_credit_code), ("id_number", validate_id_number)):
        if not cleaned[field] or field in errors:
            continue
        # "none" means the type does not restrict the identifier: one given is still validated.
        if type_cfg is not None and identifier not in (field, "none"):
            label = _("统一社会信用代码") if field == "credit_code" else _("身份证号")
            err(field, _("%(type)s类客户不填写%(field)s") % {"type": type_cfg.get("label", type_key), "field": label})
            continue
        try:
            cleaned[field] = validator(cleaned[field])
        except ValidationError as exc:
            err(field, exc.messages[0])

    cleaned["status"] = _choice(data.get("status"), CustomerStatus, CustomerStatus.PROSPECT)
    if cleaned["status"] is None:
        err("status", _("未知的状态：%(value)s") % {"value": _text(data.get("status"))[:40]})
    cleaned["secret_level"] = _choice(data.get("secret_level"), SecretLevel, SecretLevel.PUBLIC)
    if cleaned["secret_level"] is None:
        err("secret_level", _("未知的密级：%(value)s") % {"value": _text(data.get("secret_level"))[:40]})

    extra = data.get("extra")
    if extra in (None, ""):
        extra = {}
    if not isinstance(extra, dict):
        err("extra", _("其他字段必须是对象"))
        extra = {}
    cleaned["extra"] = extra

    if type_cfg is not None:
        for field in type_cfg.get("required_fields", ()):
            value = cleaned[field] if field in cleaned else data.get(field)
            if field in errors:
                continue
            if value in (None, "", [], {}) or (isinstance(value, str) and not value.strip()):
                err(field, _("%(type)s类客户必须填写此项") % {"type": type_cfg.get("label", type_key)})

    return cleaned, errors


@functools.cache
def _max_lengths() -> dict[str, int]:
    return {field: Customer._meta.get_field(field).max_length for field in TEXT_FIELDS}


def _text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _plain(value):
    """Pack values may be pydantic models or dicts; the rest of the app reads plain dicts."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(value)


def _types_lookup(customer_type_cfg) -> dict[str, dict]:
    if customer_type_cfg is None:
        return customer_types()
    if isinstance(customer_type_cfg, dict) and "key" in customer_type_cfg:
        return {customer_type_cfg["key"]: dict(customer_type_cfg)}
    if isinstance(customer_type_cfg, dict):
        return {k: _plain(v) for k, v in customer_type_cfg.items()}
    return customer_types(customer_type_cfg)


def _find_type(types: dict[str, dict], given: str) -> dict | None:
    if not given:
        return None
    if given in types:
        return types[given]
    folded = given.casefold()
    for cfg in types.values():
        if folded in (str(cfg.get("label", "")).casefold(), str(cfg.get("label_en", "")).casefold(), cfg["key"].casefold()):
            return cfg
    return None


_CHOICES_SEEN: dict[tuple, object] = {}


def _choice(value, choices, default):
    """A choice given by value or label (Chinese or in the active language); None if unknown."""
    text = _text(value)
    if not text:
        return default
    # The answer depends only on the choices, the language and the text, and a file repeats a few texts.
    from django.utils import translation

    key = (choices, translation.get_language(), text)
    try:
        return _CHOICES_SEEN[key]
    except KeyError:
        pass
    if len(_CHOICES_SEEN) > 1000:
        _CHOICES_SEEN.clear()
    found = _CHOICES_SEEN[key] = _find_choice(text, choices)
    return found


def _find_choice(text, choices):
    for member in choices:
        if text == str(member.value) or text == str(member.label) or text.casefold() == member.name.casefold():
            return member.value
    from django.utils import translation

    with translation.override("zh-hans"):
        for member in choices:
            if text == str(member.label):
                return member.value
    return None
