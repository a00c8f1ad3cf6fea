"""``python -m pipeline.cli``: the same as the ``llm-migrate`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
