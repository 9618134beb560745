"""Tracked email (SPEC section 5): every sent message carries an open pixel,
tracked links, a browser ("view online") link, a pass-along link and an
unsubscribe link (also as RFC 8058 ``List-Unsubscribe`` headers).

- ``tokens``: the signed tokens in those URLs; a forged or altered one is
  refused.
- ``links``: each link of a message gets a stable id (``MessageLink``); a
  click can only lead to one of them.
- ``render``: a delivery's email, rendered with its links rewritten.
- ``engagement``: what a click, an open or an unsubscribe records, as
  activities through ``contacts.hooks`` (Segment and child threads read them).

The public pages are ``conductor.views``.
"""
