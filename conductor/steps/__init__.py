"""Step kinds as units (STYLE: a new kind is one new module plus its tests).

Each kind is a ``StepKindUnit`` (``unit``) in a module of its own — its
settings, ``check``, set-based ``run``, admin form, diagram summary, the
settings naming other rows (``references``) and how it moves contacts — and
the registry (``registry``: ``register``, ``unit_for``, ``all_units``) is the
only place that lists them. The built-in kinds are ``message``, ``go_to``,
``action`` (whose action kinds are units of ``actions``), ``wait`` and
``terminate``.
"""
