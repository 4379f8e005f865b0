"""Reads scoped by the reader: who sees which users, who can receive customers, the department tree."""

from zhidu.org import selectors, services


def usernames(qs):
    return {u.username for u in qs}


def test_users_visible_to_by_role(staff):
    everyone = set(staff)
    assert usernames(selectors.users_visible_to(staff["sysadmin"])) == everyone
    assert usernames(selectors.users_visible_to(staff["secadmin"])) == everyone
    assert usernames(selectors.users_visible_to(staff["gm"])) == everyone
    assert usernames(selectors.users_visible_to(staff["archivist"])) == everyone
    # 销售部 manager: the 销售部 subtree.
    assert usernames(selectors.users_visible_to(staff["manager"])) == {"manager", "supervisor", "sales", "sales2"}
    # 华东组 supervisor: the department only.
    assert usernames(selectors.users_visible_to(staff["supervisor"])) == {"supervisor", "sales"}
    assert usernames(selectors.users_visible_to(staff["sales"])) == {"sales"}
    assert usernames(selectors.users_visible_to(staff["auditor"])) == {"auditor"}


def test_staff_for_assignment_is_within_scope_and_active(staff):
    # Holders of customers.edit only: not the admins, not the archivist.
    assert usernames(selectors.staff_for_assignment(staff["gm"])) == {"gm", "manager", "supervisor", "sales", "sales2"}
    assert usernames(selectors.staff_for_assignment(staff["manager"])) == {"manager", "supervisor", "sales", "sales2"}
    assert usernames(selectors.staff_for_assignment(staff["supervisor"])) == {"supervisor", "sales"}
    assert usernames(selectors.staff_for_assignment(staff["sales"])) == {"sales"}
    assert usernames(selectors.staff_for_assignment(staff["sysadmin"])) == {"gm", "manager", "supervisor", "sales", "sales2"}
    services.user_disable(staff["sysadmin"], staff["sales2"])
    assert "sales2" not in usernames(selectors.staff_for_assignment(staff["manager"]))


def test_staff_for_assignment_follows_role_changes(staff, roles):
    services.user_set_role(staff["secadmin"], staff["sales"], roles["archivist"])
    assert usernames(selectors.staff_for_assignment(staff["supervisor"])) == {"supervisor"}


def test_departments_tree_order_and_counts(staff, tree):
    # Siblings come by name (信息中心 before 销售部 although it was created later), each under its parent.
    nodes = selectors.departments_tree()
    names = [(n.department.name, n.depth) for n in nodes]
    assert names == [("总公司", 0), ("信息中心", 1), ("销售部", 1), ("华东组", 2), ("华北组", 2)]
    for node in nodes:
        parent = node.department.parent_id
        if parent:
            assert [n.department.pk for n in nodes].index(parent) < nodes.index(node)
    counts = {n.department.code: n.user_count for n in nodes}
    assert counts == {"HQ": 2, "IT": 3, "SALES": 1, "EAST": 2, "NORTH": 1}


def test_users_page_department_filter_includes_subtree(staff, tree):
    page = selectors.users_page(staff["sysadmin"], department_id=tree["sales"].pk)
    assert usernames(page.rows) == {"manager", "supervisor", "sales", "sales2"}
    page = selectors.users_page(staff["sysadmin"], department_id=987654)
    assert page.rows == []
    page = selectors.users_page(staff["manager"], q="s")
    assert usernames(page.rows) <= {"manager", "supervisor", "sales", "sales2"}
