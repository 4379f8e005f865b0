"""Grants the complaint, grading and credit permissions to the built-in roles of an existing install.

Only these permissions are added; anything the security admin removed or added to a role before is left
as it is. Roles introduced with these modules (质量经理, 客服专员, 信用管理员, 营销事业部经理) are created by
`roles_ensure_builtin()`. The grants are written out here so that later changes to the built-in role
definitions do not change what this migration did.
"""

from django.db import migrations

GRANTS = {
    "general_manager": [
        "complaints.view", "complaints.handle", "complaints.manage", "complaints.export",
        "grading.view", "grading.admit", "grading.review", "grading.blacklist", "grading.blacklist_company", "grading.export",
        "credit.view", "credit.manage", "credit.orders", "credit.export",
    ],
    "dept_manager": [
        "complaints.view", "complaints.handle", "complaints.manage", "complaints.export",
        "grading.view", "grading.admit", "grading.review", "grading.blacklist", "grading.export",
        "credit.view", "credit.orders", "credit.export",
    ],
    "supervisor": ["complaints.view", "complaints.handle", "grading.view", "grading.admit", "credit.view", "credit.orders"],
    "sales": ["complaints.view", "complaints.handle", "grading.view", "grading.admit", "credit.view", "credit.orders"],
}  # fmt: skip


def grant(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    for role in Role.objects.filter(code__in=GRANTS, is_builtin=True):
        added = [p for p in GRANTS[role.code] if p not in role.permissions]
        if added:
            role.permissions = [*role.permissions, *added]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
