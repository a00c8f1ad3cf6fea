"""The offline demo: a deterministic world of traffic, answers and human labels with a known
true Δ (``world``), its registry (``registry.yaml``), and the loopback provider (``server``):
the OpenAI and Anthropic wire formats (``chat_formats``), both batch APIs (``batches``) and
injected faults (``faults``).

May import ``pipeline.data``. Nothing on the production path imports this package: only an
offline registry, the ``demo`` data source, the CLI's ``demo`` command and tests load it.
"""
