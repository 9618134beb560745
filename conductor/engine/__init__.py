"""Moving contacts through conversations (SPEC section 4, "Execution").

- ``entry``: triggers turn recorded activity into enrollments, in bulk, in
  the transaction that recorded it.
- ``claims``: due enrollments are claimed in batches no two workers share.
- ``runner``: a claimed batch is run step by step, the enrollments at the
  same step together, each step visit logged once.
- ``child_threads``: opens and clicks of an email start the child threads
  waiting for them.
- ``tasks``: the django-q2 task and schedule, and ``run_conductor``'s loop;
  each run also sends the emails its Message steps wrote
  (``emails.sending``).
"""
