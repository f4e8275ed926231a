"""Secret injection: delivering secrets to applications and keeping them fresh.

One module per concern — ``env`` (variables, ``--env`` specs, ``.env`` files), ``files``
(atomic owner-only writes and their safety checks), ``templates`` (sandboxed rendering and
quoting filters), ``bindings`` (what a recorded binding holds), ``reload`` (change detection
and subscribers), ``injector`` (the part ``SecretVault`` delegates to), ``process`` (``run``:
launching, supervising and redacting a child), ``exports`` (dotenv/JSON/Kubernetes/docker
formats in and out) and ``settings_source`` (pydantic-settings and Oneiric-style lookups).
docs/injection.md is the user's guide.
"""
