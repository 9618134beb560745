"""Action kinds: what an Action step does (``settings["action"]``), one
module per kind, each an ``ActionKindUnit`` (``base``) listed in
``built_in`` or added with ``registry.register_action``."""
