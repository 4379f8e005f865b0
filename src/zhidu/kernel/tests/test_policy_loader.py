"""Reading and validating pack files: every error names the file, the line and the key."""

import textwrap

import pytest

from zhidu.kernel.policy import loader
from zhidu.kernel.policy.loader import PackError


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def issues_of(path):
    with pytest.raises(PackError) as caught:
        loader.load(path)
    return caught.value.issues


GOOD = """
    name: good
    title: 测试制度
    implements: [S01]
    parameters:
      customers.review_cycle_months:
        value: 6
        source: "000_097510e39fec2ee7.txt Doc5 五、3.2 L303"
"""


def test_a_good_pack_loads_with_values_and_sources(tmp_path):
    pack = loader.load(write(tmp_path, "good.yaml", GOOD))
    assert pack.name == "good"
    assert pack.implements == ["S01"]
    entry = pack.parameters["customers.review_cycle_months"]
    assert (entry.value, entry.source, entry.required) == (6, "000_097510e39fec2ee7.txt Doc5 五、3.2 L303", False)


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.review_cycle_months:
            value: 6
            source: seed L1
          customers.review_cycle_monthz:
            value: 6
            source: seed L2
        """,
    )
    [issue] = issues_of(path)
    assert issue.file == str(path)
    assert issue.line == 7
    assert issue.key == "customers.review_cycle_monthz"
    assert "未知参数" in issue.message and "customers.review_cycle_months" in issue.message
    assert str(issue).startswith(f"{path}:7: customers.review_cycle_monthz: ")


def test_wrong_type_names_the_line_of_the_value(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.review_cycle_months:
            source: seed L1
            value: "6"
        """,
    )
    [issue] = issues_of(path)
    assert (issue.line, issue.key) == (6, "customers.review_cycle_months")
    assert "int" in issue.message


def test_wrong_type_inside_a_list_points_at_the_item(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.access_request.chain:
            source: seed L1
            value:
              - {role: dept_manager, label: 部门经理}
              - {role: archivist, label: 客服部, approver: x}
        """,
    )
    [issue] = issues_of(path)
    assert (issue.line, issue.key) == (8, "customers.access_request.chain")


def test_constraints_of_the_declared_type_are_checked(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          calendar.business_hours:
            source: seed L1
            value: [["13:00", "12:00"]]
        """,
    )
    [issue] = issues_of(path)
    assert issue.key == "calendar.business_hours"
    assert issue.line == 6


def test_missing_source_is_an_error_at_the_key(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.review_cycle_months:
            value: 6
          customers.access_request.max_days:
            value: 3
            source: "  "
        """,
    )
    issues = issues_of(path)
    assert [(i.line, i.key) for i in issues] == [(4, "customers.review_cycle_months"), (8, "customers.access_request.max_days")]
    assert "source" in issues[0].message


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: Bad Name
        title: 测试
        implements: [S01, S33, S7]
        paramters: {}
        parameters:
          nope.key: {value: 1, source: x}
          customers.review_cycle_months: 6
        """,
    )
    found = {(i.line, i.key) for i in issues_of(path)}
    assert found == {(1, "name"), (3, "implements"), (4, "paramters"), (6, "nope.key"), (7, "customers.review_cycle_months")}


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "name: bad\ntitle: [unclosed\nparameters: {}\n")
    [issue] = issues_of(path)
    assert issue.key == "(yaml)" and issue.line is not None


def test_duplicate_parameter_is_an_error(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.review_cycle_months: {value: 6, source: a}
          customers.review_cycle_months: {value: 3, source: b}
        """,
    )
    [issue] = issues_of(path)
    assert (issue.line, issue.key) == (5, "customers.review_cycle_months")


def test_required_parameter_has_no_value(tmp_path):
    path = write(
        tmp_path,
        "req.yaml",
        """
        name: req
        title: 测试
        parameters:
          customers.access_request.max_days:
            required: true
            source: "seed L9"
            note: 原文空缺
        """,
    )
    entry = loader.load(path).parameters["customers.access_request.max_days"]
    assert (entry.value, entry.required, entry.note) == (None, True, "原文空缺")

    both = write(tmp_path, "both.yaml", "name: both\ntitle: t\nparameters:\n  customers.access_request.max_days: {required: true, value: 3, source: s}\n")
    [issue] = issues_of(both)
    assert issue.key == "customers.access_request.max_days"


def test_extends_child_overrides_parent_key_by_key(tmp_path):
    write(
        tmp_path,
        "parent.yaml",
        """
        name: parent
        title: 上级
        apps: [customers]
        parameters:
          customers.review_cycle_months: {value: 12, source: parent L1}
          customers.access_request.max_days: {value: 7, source: parent L2}
        """,
    )
    child = write(
        tmp_path,
        "child.yaml",
        """
        name: child
        title: 下级
        extends: parent
        implements: [S07]
        apps: [records]
        parameters:
          customers.review_cycle_months: {value: 3, source: child L1}
        """,
    )
    pack = loader.load(child)
    assert pack.extends == ["parent"]
    assert pack.apps == ["customers", "records"]
    assert pack.parameters["customers.review_cycle_months"].value == 3
    assert pack.parameters["customers.review_cycle_months"].pack == "child"
    assert pack.parameters["customers.access_request.max_days"].value == 7
    assert pack.parameters["customers.access_request.max_days"].source == "parent L2"
    assert pack.parameters["customers.access_request.max_days"].pack == "parent"


def test_extends_by_name_from_packs_dir(tmp_path, settings):
    settings.PACKS_DIR = tmp_path / "packs"
    settings.PACKS_DIR.mkdir()
    write(settings.PACKS_DIR, "root.yaml", "name: root\ntitle: r\nparameters:\n  customers.review_cycle_months: {value: 9, source: r}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    child = write(elsewhere, "c.yaml", "name: c\ntitle: c\nextends: root\n")
    assert loader.load(child).parameters["customers.review_cycle_months"].value == 9
    assert loader.load("root").name == "root"


def test_extends_cycle_is_detected(tmp_path):
    write(tmp_path, "a.yaml", "name: a\ntitle: a\nextends: b\n")
    write(tmp_path, "b.yaml", "name: b\ntitle: b\nextends: a\n")
    [issue] = issues_of(tmp_path / "a.yaml")
    assert issue.key == "extends" and issue.line == 3
    assert "a → b → a" in issue.message


def test_extends_missing_parent(tmp_path):
    [issue] = issues_of(write(tmp_path, "a.yaml", "name: a\ntitle: a\nextends: nowhere\n"))
    assert (issue.key, issue.line) == ("extends", 3)


def test_errors_in_the_parent_name_the_parent_file(tmp_path):
    parent = write(tmp_path, "p.yaml", "name: p\ntitle: p\nparameters:\n  customers.review_cycle_months: {value: x, source: s}\n")
    [issue] = issues_of(write(tmp_path, "c.yaml", "name: c\ntitle: c\nextends: p\n"))
    assert (issue.file, issue.line) == (str(parent), 4)


def test_the_real_packs_load():
    for name in ("base", "s01-prosthetics", "s07-customer-service"):
        pack = loader.load(name)
        assert all(entry.source for entry in pack.parameters.values())
    s01 = loader.load("s01-prosthetics")
    assert s01.implements == ["S01"] and s01.extends == ["base"]
    assert s01.parameters["customers.review_cycle_months"].value == 6
    assert "L303" in s01.parameters["customers.review_cycle_months"].source
    s07 = loader.load("s07-customer-service")
    assert s07.parameters["customers.review_cycle_months"].value == 3
    assert s07.parameters["customers.access_request.max_days"].value == 3
    assert [step["role"] for step in s07.parameters["customers.access_request.chain"].value] == ["dept_manager", "archivist"]


def test_duplicate_field_inside_a_value_names_the_parameter(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        title: 测试
        parameters:
          customers.access_request.chain:
            source: s
            value:
              - {role: dept_manager, role: archivist}
        """,
    )
    issues = issues_of(path)
    assert (issues[0].line, issues[0].key) == (7, "customers.access_request.chain")
    assert "'role'" in issues[0].message
