"""The ground floor: plumbing every app may use, knowing none of them.

- ``bulk``: writing many rows in few statements (COPY inserts, JSON bulk
  updates, JSON ``__in`` lists).
- ``schedules``: the django-q2 sweep schedules each app keeps after migrate.

Nothing here imports a project app (``lists``, ``contacts``, ``conductor``,
``integrations``, ``api``); every app may import it.
"""
