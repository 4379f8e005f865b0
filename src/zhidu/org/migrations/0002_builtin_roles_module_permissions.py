"""Grants the complaint, grading and credit permissions to the built-in roles of an existing install.

Only permissions these modules introduce are added; anything the security admin removed or added to a
role before is left as it is. Roles missing altogether are created by `roles_ensure_builtin()`.
"""

from django.db import migrations

NEW_PREFIXES = ("complaints.", "grading.", "credit.")


def grant(apps, schema_editor):
    from zhidu.org.services import BUILTIN_ROLES

    Role = apps.get_model("org", "Role")
    for code, _name, _scope, permissions, _unmasked, _cap in BUILTIN_ROLES:
        role = Role.objects.filter(code=code, is_builtin=True).first()
        if role is None:
            continue
        added = [p for p in permissions if p.startswith(NEW_PREFIXES) and p not in role.permissions]
        if added:
            role.permissions = [*role.permissions, *added]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
