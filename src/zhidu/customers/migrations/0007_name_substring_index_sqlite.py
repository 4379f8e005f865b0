"""On SQLite, name substring search gets an index: an FTS5 table with the trigram tokenizer over
Customer.name (external content: it stores only the index, keyed by the customer's id), kept in step by
triggers on every INSERT, UPDATE of name and DELETE, whatever writes the row (services, the bulk
import, raw SQL). A quoted FTS5 phrase of 3 or more characters is then a case-insensitive substring
match served by the index (customers/search.py); without it `LIKE '%…%'` read every row.

SQLite builds without FTS5 or older than 3.34 (no trigram tokenizer) skip it; search then scans.
PostgreSQL has its trigram GIN index (0004).

A later migration that makes Django rebuild the customers table on SQLite (most AlterField/RemoveField
there) drops these triggers with the old table: call `create_name_index` again after it. search.py
uses the index only while the table and all its triggers exist, so a missing trigger costs speed,
never wrong results."""

from django.db import migrations

TABLE = "customers_customer_name_fts"
TRIGGERS = {
    f"{TABLE}_insert": f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON customers_customer BEGIN
        INSERT INTO {TABLE}(rowid, name) VALUES (new.id, new.name); END""",
    f"{TABLE}_delete": f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON customers_customer BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, name) VALUES ('delete', old.id, old.name); END""",
    f"{TABLE}_update": f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_update AFTER UPDATE OF name ON customers_customer BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, name) VALUES ('delete', old.id, old.name);
        INSERT INTO {TABLE}(rowid, name) VALUES (new.id, new.name); END""",
}


def create_name_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [TABLE])
        exists = cursor.fetchone() is not None
        if not exists:
            try:
                cursor.execute(
                    f"CREATE VIRTUAL TABLE {TABLE} USING fts5(name, content='customers_customer', content_rowid='id', tokenize='trigram')"
                )
            except Exception:  # no FTS5, or no trigram tokenizer (SQLite < 3.34): search scans
                return
        for sql in TRIGGERS.values():
            cursor.execute(sql)
        # (Re)index every existing row: also repairs an index whose triggers were missing for a while.
        cursor.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")


def drop_name_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_handover_kept_count_customer_customer_owner_idx")]
    operations = [migrations.RunPython(create_name_index, drop_name_index, elidable=False)]
