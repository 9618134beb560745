"""Subscription points: the signup forms and pop-ups a shop embeds.

A point is a named way into a list (Footer, Pop-up, Checkout): the profile
fields it asks for, the external event it fires on each signup, double
opt-in or not. People use it through a hosted page (``/s/<key>/``), an HTML
form pasted into the shop's site, or a pop-up script posting across origins.
Every signup goes through the contacts services, so Conductor and Segment
hear of it through the activity hook like any other subscription.

Depends on ``lists``, ``contacts`` and (for its report) ``conductor``.
"""
