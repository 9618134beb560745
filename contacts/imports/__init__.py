"""Contact imports: one importer behind the command, the admin and the API.

``run_import(list_import)`` is the entry point; it picks the PostgreSQL path
(COPY into a staging table, then set-based SQL) or the portable path (the
batch services over the deduplicated rows). Both follow one rule table
(``rules.py``).
"""
