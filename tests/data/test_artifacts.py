"""The artifact store: files under one root, local or any fsspec URL, written whole."""

import os

import pytest

from pipeline.data.artifacts import ArtifactStore


def test_a_local_store_writes_whole_files_under_its_root(tmp_path):
    store = ArtifactStore(tmp_path / "root")
    where = store.write_text("ok", "fits", "run 1", "fit.nc")
    assert where == os.fspath(tmp_path / "root" / "fits" / "run 1" / "fit.nc")
    assert store.read_bytes("fits", "run 1", "fit.nc") == b"ok"
    assert store.is_local and store.exists("fits", "run 1", "fit.nc")
    store.write_text("again", "fits", "run 1", "fit.nc")  # replaced, nothing left aside
    assert sorted(os.listdir(tmp_path / "root" / "fits" / "run 1")) == ["fit.nc"]
    mode = os.stat(where).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # as readable as any file the process makes, not private


def test_an_fsspec_url_is_a_root_like_a_folder():
    store = ArtifactStore("memory://llm-migrate-test/prefix")
    where = store.write_bytes(b"\x00\x01", "report", "migration_report.html")
    assert not store.is_local
    assert where == "memory://llm-migrate-test/prefix/report/migration_report.html"
    assert store.read_bytes("report", "migration_report.html") == b"\x00\x01"


@pytest.mark.parametrize("part", ["..", "../x", "a/../../b", "/etc/passwd", ""])
def test_a_part_cannot_leave_the_root(tmp_path, part):
    with pytest.raises(ValueError, match="inside the artifacts root"):
        ArtifactStore(tmp_path).path("label_queue", part)
