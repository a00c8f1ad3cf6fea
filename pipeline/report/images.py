"""PNG figures inlined where they are shown: as a data URI (HTML ``<img src>``) and as a
markdown image (Dagster's markdown metadata), so neither needs a file server."""

from __future__ import annotations

import base64

from pipeline.data.markdown import escape_cell


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...``: the image inside the page that shows it."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes, alt: str) -> str:
    """A markdown image of ``png`` inlined as a data URI; ``alt`` (which may hold names from
    data) escaped so that it stays text."""
    return f"![{escape_cell(alt)}]({data_uri(png)})"
