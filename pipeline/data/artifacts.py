"""The files the pipeline keeps beside its tables (saved fits, reports, plots, label-queue
sheets), under one root that fsspec understands: a local folder by default, an object store in
production (``s3://bucket/prefix`` with s3fs installed, ``gs://...`` with gcsfs). Nothing here
assumes that the warehouse is a local file, or that the root is on this machine.

Paths inside the root are built from parts the pipeline chooses (a kind, a run id, a file
name); a part that would climb out of the root or name an absolute path is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import PurePosixPath

from upath import UPath


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ArtifactStore:
    """Files under ``root`` (a folder or an fsspec URL), written whole or not at all."""

    def __init__(self, root: str | os.PathLike, **storage_options):
        self.root = UPath(root, **storage_options)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    @property
    def is_local(self) -> bool:
        """Whether the root is a folder of this machine's file system."""
        return self.root.protocol in ("", "file", "local")

    def path(self, *parts: str) -> UPath:
        """The artifact at ``root/part/part/...``; a part that is empty, absolute, or holds
        ``..`` is refused (the names come from runs and data, never from a user's path)."""
        for part in parts:
            pieces = PurePosixPath(str(part).replace("\\", "/")).parts
            if not part or str(part).startswith(("/", "\\")) or ".." in pieces:
                raise ValueError(f"artifact path part {part!r}: must be a relative name "
                                 "inside the artifacts root")
        return self.root.joinpath(*parts)

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write ``data`` to the artifact ``parts`` and return where it is (a local path or
        a URL). A reader never sees a half-written file: a local file is written aside and
        renamed into place; an object store's PUT is whole by itself."""
        target = self.path(*parts)
        if self.is_local:
            folder = os.fspath(target.parent)
            os.makedirs(folder, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                # mkstemp makes the file private (0600); an artifact is as readable as any
                # file this process creates (the umask decides)
                os.chmod(temporary, 0o666 & ~_umask())
                os.replace(temporary, os.fspath(target))
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return self.location(target)

    def write_text(self, text: str, *parts: str) -> str:
        """Write ``text`` (UTF-8) like :meth:`write_bytes`."""
        return self.write_bytes(text.encode("utf-8"), *parts)

    def read_bytes(self, *parts: str) -> bytes:
        return self.path(*parts).read_bytes()

    def exists(self, *parts: str) -> bool:
        return self.path(*parts).exists()

    def location(self, path: UPath) -> str:
        """How a person or a tool finds ``path``: a local path, else its URL."""
        return os.fspath(path) if self.is_local else str(path)
