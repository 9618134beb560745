"""Tracked email (SPEC section 5): every sent message carries an open pixel,
tracked links, a browser ("view online") link, a pass-along link and an
unsubscribe link (also as RFC 8058 ``List-Unsubscribe`` headers).

- ``tokens``: the signed tokens in those URLs; a forged or altered one is
  refused.
- ``links`` and ``link_text``: each link of a message gets a stable id
  (``MessageLink``); a click can only lead to one of them.
- ``engagement``: what a click, an open or an unsubscribe records, as
  activities through ``contacts.hooks`` (Segment and child threads read them).
- ``activity``: the details that name an email in each of its activities.

Rendering is ``emails.render``; the public pages are ``emails.views``.
"""
