"""Work around ArviZ 0.23's once-a-day import warning, which races between processes.

On the first import of a day ``arviz`` writes ``daily_warning.tmp`` in its cache folder and
renames it over ``daily_warning``; two processes importing it at once (pytest-xdist workers,
Dagster's multiprocess executor, a k8s job's pods sharing a home) share that one temporary
name, and the slower rename fails with ``FileNotFoundError`` (arviz-devs/arviz#2530, #2583;
no 0.x release has the fix yet). Writing today's stamp first, through a temporary name of our
own, makes every import read today's date and skip the write.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path


def stamp_arviz_daily_warning() -> None:
    """Mark ArviZ's daily warning as shown today, so that importing ``arviz`` writes nothing.
    Best effort: any failure leaves ArviZ to behave as it would have."""
    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("arviz", "arviz"))
        stamp = folder / "daily_warning"
        today = datetime.date.today().isoformat()
        if stamp.is_file() and stamp.read_text().strip() == today:
            return
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".daily_warning.")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(today)
            os.replace(tmp, stamp)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - a cache file must never stop the pipeline importing
        return
