import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from zhidu.customers.policy import DEFAULT_TYPES, SCHEMA
from zhidu.customers.validation import (
    customer_types,
    name_initials,
    name_key,
    name_pinyin,
    normalize_phone,
    phone_reversed,
    validate_credit_code,
    validate_customer_data,
    validate_id_number,
    validate_phone,
)

TYPES = customer_types(DEFAULT_TYPES)


@pytest.mark.parametrize("raw", ["91110000802100433B", "91110000802100433b", " 9111 0000-8021 00433B "])
def test_credit_code_valid_is_compacted(raw):
    assert validate_credit_code(raw) == "91110000802100433B"


@pytest.mark.parametrize("raw", ["91110000802100433A", "9111000080210043", "", "hello", "91110000802100433BX"])
def test_credit_code_invalid(raw):
    with pytest.raises(ValidationError):
        validate_credit_code(raw)


def test_id_number_checksum():
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    assert validate_id_number("44030519900101123X") == "44030519900101123X"
    for bad in ("110105194912310021", "11010519491231002", "440305199013011233", "abc"):
        with pytest.raises(ValidationError):
            validate_id_number(bad)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("010-12345678", "01012345678"),
        ("(0755) 8888 1234", "075588881234"),
        ("4008001234", "4008001234"),
    ],
)
def test_phone_normalised_to_national_digits(raw, expected):
    assert normalize_phone(raw) == expected
    assert validate_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "1381234567", "+1 650 253 0000", "", None, "abc", "1" * 50])
def test_phone_invalid(raw):
    assert normalize_phone(raw) is None
    with pytest.raises(ValidationError):
        validate_phone(raw)


def test_phone_reversed_digits_only():
    assert phone_reversed("010-1234 5678") == "87654321010"


def test_name_key_strips_legal_forms_and_punctuation():
    assert name_key("北京华为技术有限公司") == "北京华为技术"
    assert name_key("北京 华为技术 股份有限公司") == "北京华为技术"
    assert name_key("（北京）华为技术有限责任公司") == "北京华为技术"
    assert name_key("华为集团有限公司") == "华为"
    assert name_key("ＡＢＣ Co., Ltd.") == "abc"
    assert name_key("有限公司") == "有限公司"  # nothing left: keep the cleaned name


def test_pinyin_and_initials():
    assert name_pinyin("重庆银行") == "chongqingyinhang"
    assert name_initials("重庆银行") == "cqyh"
    assert name_pinyin("北京 ABC-3M 公司") == "beijingabc3mgongsi"
    assert name_initials("德奥假肢") == "dajz"


def test_valid_enterprise():
    cleaned, errors = validate_customer_data(
        {"customer_type": "enterprise", "name": " 德奥假肢 ", "credit_code": "91110000802100433b", "status": "合作中", "secret_level": "秘密"},
        customer_type_cfg=TYPES,
    )
    assert errors == {}
    assert cleaned["name"] == "德奥假肢"
    assert cleaned["credit_code"] == "91110000802100433B"
    assert cleaned["status"] == "active"
    assert cleaned["secret_level"] == 1


def test_type_given_by_label_and_list_config():
    cleaned, errors = validate_customer_data({"customer_type": "医疗机构", "name": "某医院", "credit_code": "91310000631696382C"}, customer_type_cfg=DEFAULT_TYPES)
    assert errors == {}
    assert cleaned["customer_type"] == "medical"


def test_single_type_config_accepted():
    cfg = TYPES["individual"]
    cleaned, errors = validate_customer_data({"customer_type": "individual", "name": "张三", "id_number": "11010519491231002X"}, customer_type_cfg=cfg)
    assert errors == {} and cleaned["id_number"] == "11010519491231002X"


def test_errors_per_field():
    cleaned, errors = validate_customer_data(
        {"customer_type": "enterprise", "name": "", "credit_code": "123", "status": "unknown", "secret_level": 9, "extra": [1], "address": "路" * 301},
        customer_type_cfg=TYPES,
    )
    assert set(errors) == {"name", "credit_code", "status", "secret_level", "extra", "address"}
    assert errors["name"] == ["客户名称不能为空"]


def test_unknown_type_and_missing_type():
    _, errors = validate_customer_data({"customer_type": "alien", "name": "x"}, customer_type_cfg=TYPES)
    assert "customer_type" in errors
    _, errors = validate_customer_data({"name": "x"}, customer_type_cfg=TYPES)
    assert "customer_type" in errors


def test_required_fields_by_type():
    _, errors = validate_customer_data({"customer_type": "enterprise", "name": "某公司"}, customer_type_cfg=TYPES)
    assert list(errors) == ["credit_code"]
    _, errors = validate_customer_data({"customer_type": "household", "name": "张三家"}, customer_type_cfg=TYPES)
    assert list(errors) == ["address"]
    types = customer_types([{**TYPES["household"], "required_fields": ["name", "contacts"]}])
    _, errors = validate_customer_data({"customer_type": "household", "name": "张三家"}, customer_type_cfg=types)
    assert list(errors) == ["contacts"]
    _, errors = validate_customer_data({"customer_type": "household", "name": "张三家", "contacts": [{"name": "张三"}]}, customer_type_cfg=types)
    assert errors == {}


def test_identifier_must_match_type():
    _, errors = validate_customer_data(
        {"customer_type": "enterprise", "name": "某公司", "credit_code": "91110000802100433B", "id_number": "11010519491231002X"}, customer_type_cfg=TYPES
    )
    assert list(errors) == ["id_number"]
    _, errors = validate_customer_data({"customer_type": "individual", "name": "张三", "id_number": "110105194912310021"}, customer_type_cfg=TYPES)
    assert list(errors) == ["id_number"]
    # A type without a fixed identifier accepts either, validated.
    cleaned, errors = validate_customer_data({"customer_type": "household", "name": "张三家", "address": "x", "credit_code": "91110000802100433b"}, customer_type_cfg=TYPES)
    assert errors == {} and cleaned["credit_code"] == "91110000802100433B"
    _, errors = validate_customer_data({"customer_type": "household", "name": "张三家", "address": "x", "id_number": "123"}, customer_type_cfg=TYPES)
    assert list(errors) == ["id_number"]


def test_spreadsheet_values():
    cleaned, errors = validate_customer_data(
        {"customer_type": "household", "name": 12345.0, "address": None, "secret_level": 0.0, "region": 3}, customer_type_cfg=TYPES
    )
    assert cleaned["name"] == "12345" and cleaned["region"] == "3" and cleaned["secret_level"] == 0
    assert list(errors) == ["address"]


def test_messages_in_english():
    with translation.override("en"):
        _, errors = validate_customer_data({"customer_type": "enterprise", "name": ""}, customer_type_cfg=TYPES)
    assert errors["name"] == ["The customer name is required"]


def test_schema_defaults():
    assert SCHEMA["customers.code_pattern"].default == "{prefix}{year}{seq:05d}"
    assert [t["key"] for t in SCHEMA["customers.types"].default] == [
        "enterprise", "individual", "medical", "dealer", "supplier", "member", "household", "property_unit"
    ]
    with pytest.raises(Exception):
        SCHEMA["customers.code_pattern"].validate("{prefix}{year}")
    with pytest.raises(Exception):
        SCHEMA["customers.duplicate_name_threshold"].validate(1.5)


def test_credit_codes_are_judged_as_stdnum_judges_them():
    """validate_credit_code decides plain codes itself; it must agree with python-stdnum everywhere."""
    import random

    from stdnum.cn import uscc

    rnd = random.Random(11)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXYZIOSVabc -"
    codes = []
    for _ in range(3000):
        body = "".join(rnd.choice("0123456789") for _ in range(8)) + "".join(rnd.choice(alphabet[:31]) for _ in range(9))
        good = body + uscc.calc_check_digit(body + "0")
        codes += [good, body + rnd.choice(alphabet), good.lower(), good[:-1], good + "1", good[:5] + "I" + good[6:]]
    for code in codes:
        try:
            expected = uscc.validate(uscc.compact(code).upper())
        except Exception:
            expected = None
        try:
            got = validate_credit_code(code)
        except ValidationError:
            got = None
        assert got == expected, code


def test_plain_mobile_numbers_are_judged_as_the_full_parser_judges_them():
    """normalize_phone decides plain 11-digit mobile numbers from phonenumbers' mobile pattern; for every
    4-digit prefix it must agree with the full parse, validity check and national format."""
    import random

    from zhidu.customers.validation import parsed_phone as parsed

    rnd = random.Random(5)
    for prefix in range(1000, 2000):
        for _ in range(3):
            text = f"{prefix}{rnd.randrange(10**7):07d}"
            assert normalize_phone(text) == parsed(text), text
