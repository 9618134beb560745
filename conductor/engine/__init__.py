"""Moving contacts through conversations (SPEC section 4, "Execution").

- ``entry``: triggers turn recorded activity into enrollments, in bulk, in
  the transaction that recorded it.
- ``claims``: due enrollments are claimed in batches no two workers share.
- ``runner``: a claimed batch is run step by step, the enrollments at the
  same step together, each step visit logged once.
- ``delivery``: the emails of Message steps, sent after their step commits.
- ``tasks``: the django-q2 task and schedule, and ``run_conductor``'s loop.
"""
