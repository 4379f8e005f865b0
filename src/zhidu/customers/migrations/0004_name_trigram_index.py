"""On PostgreSQL, name substring search (Django's icontains: `UPPER(name::text) LIKE UPPER(%…%)`) uses a trigram GIN index. Creating the
pg_trgm extension needs a privileged role; where it can't be created the index is skipped and search
still works, by scanning."""

from django.db import migrations

INDEX = "customer_name_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
        cursor.execute("SAVEPOINT zhidu_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT zhidu_trgm")
            return
        cursor.execute("RELEASE SAVEPOINT zhidu_trgm")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON customers_customer USING gin ((UPPER(name::text)) gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_initial")]
    operations = [migrations.RunPython(create, drop)]
