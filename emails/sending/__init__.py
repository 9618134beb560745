"""Sending deliveries, at most once each (SPEC section 4, "Execution").

- ``delivery``: claiming pending deliveries and sending them over many
  connections, recording what the mail server answered.
- ``senders``: the connections, each on a thread of its own.
- ``smtp``: one email's SMTP exchange on one connection.
- ``recovery``: the end of a delivery's claim (released, or its "sent"
  activity recorded) and the sweep of what stopped workers left.
- ``tasks``: the ``emails`` schedule's sweep.
"""
