"""Moving contacts through conversations (SPEC section 4, "Execution").

- ``entry``: triggers turn recorded activity into enrollments, in bulk, in
  the transaction that recorded it.
- ``claims``: due enrollments are claimed in batches no two workers share.
- ``runner``: a claimed batch is run step by step, the enrollments at the
  same step together, each step visit logged once.
- ``delivery``: the emails of Message steps, sent after their step commits.
- ``smtp``: one email's SMTP exchange, on each of ``senders``' connections.
- ``delivery_recovery``: the end of a delivery's claim (released, or its
  "sent" activity recorded) and the sweep of what stopped workers left.
- ``tasks``: the django-q2 task and schedule, and ``run_conductor``'s loop.
"""
