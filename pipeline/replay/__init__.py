"""The replay stage: redaction of what leaves for a provider, online replay through the
official SDKs (``online``), the providers' batch APIs (``batch``), and the responses store
that makes a rerun send only what is not answered yet (``store``).

May import ``pipeline.data``; never ``stats``, ``scoring`` or ``demo``.
"""
