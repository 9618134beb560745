"""Health and metrics: the probes (``/healthz``, ``/readyz``) and the
Prometheus endpoint (``/metrics``). It sits above every other app and
nobody imports it but ``config``."""
