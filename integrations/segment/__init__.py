"""The Segment source (SPEC section 6).

1. ``outbox``: a receiver of ``contacts.hooks.activities_recorded`` turns each
   batch of contact activity into ``identify`` and ``track`` messages
   (``payloads``, which also documents the ``Activity.details`` keys it reads),
   written to the outbox in the same transaction.
2. ``backfill``: a list added to an integration identifies all its contacts,
   chunk by chunk.
3. ``delivery``: workers lease shards of the outbox (``claims``) and post their messages
   in order to ``{endpoint}/v1/batch`` (``client``), retrying or
   dead-lettering by the answer; ``tasks`` runs them on django-q2, and
   ``manage.py deliver_segment`` in a process of its own.
   ``queueing`` queues those tasks (by name): the outbox and the services
   use it, and ``tasks``, which uses them all, is imported by none.
4. ``services``: setting integrations up, and what the admin shows and does.
5. ``endpoints``: where messages may go (``SEGMENT_ALLOWED_HOSTS``), checked
   when an endpoint is entered and before each delivery.
"""
