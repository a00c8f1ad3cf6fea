"""What pods of a deployment share, started for a test on loopback, each a real server in a
process of its own on a free port: an S3-API object store (moto's server mode), PostgreSQL
(Debian's ``postgresql``: ``initdb`` and ``pg_ctl`` in a temporary folder, as an unprivileged
user) and Redis (Debian's ``redis-server``). ``.ci/run`` installs the Debian packages; a test
that needs one that is missing skips, saying which.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


@contextlib.contextmanager
def running(command: list[str], port: int, what: str, **popen) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               **popen)
    try:
        wait_for_port(port, process, what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def s3_server(bucket: str) -> Iterator[dict[str, str]]:
    """moto's S3-API server with ``bucket`` created; yields the environment that points the
    AWS SDKs (s3fs through aiobotocore, boto3) at it, already set in this process."""
    import boto3
    import s3fs

    port = free_port()
    env = {**S3_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, port, "moto's S3 server"), patched_env(env):
        boto3.client("s3").create_bucket(Bucket=bucket)
        s3fs.S3FileSystem.clear_instance_cache()  # a cached client may know another endpoint
        try:
            yield env
        finally:
            s3fs.S3FileSystem.clear_instance_cache()


def debian_binary(name: str, package: str) -> str:
    """``name`` from Debian's ``package`` (PostgreSQL's live in /usr/lib/postgresql/N/bin,
    off the PATH), or a skip naming the package."""
    found = shutil.which(name) or next(iter(sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        pytest.skip(f"{name} not found: apt-get install -y --no-install-recommends {package} "
                    "(.ci/run does)")
    return found


def _unprivileged() -> dict:
    """PostgreSQL refuses to run as root: when the tests do, its processes run as the
    ``postgres`` user Debian's package creates (else ``nobody``)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return {"user": user.pw_uid, "group": user.pw_gid}
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, trust
    authentication, with a database ``dagster``; yields its URL. The folder sits directly in
    the system's temporary directory (pytest's own is private to the user running the tests,
    which PostgreSQL's user could not enter) and is removed afterwards."""
    initdb = debian_binary("initdb", "postgresql")
    postgres = str(Path(initdb).with_name("postgres"))
    user = _unprivileged()
    folder = Path(tempfile.mkdtemp(prefix="llm_migrate_postgres_"))
    try:
        data, sockets = folder / "data", folder / "sockets"
        sockets.mkdir()
        if user:
            for path in (folder, sockets):
                os.chown(path, user["user"], user["group"])
        subprocess.run([initdb, "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, **user)
        port = free_port()
        command = [postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                   "-k", str(sockets), "-c", "fsync=off", "-c", "max_connections=200"]
        with running(command, port, "PostgreSQL", **user):
            import psycopg2

            conn = psycopg2.connect(f"postgresql://dagster@127.0.0.1:{port}/postgres")
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("CREATE DATABASE dagster")
            conn.close()
            yield f"postgresql://dagster@127.0.0.1:{port}/dagster"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis server on a free loopback port, no persistence; yields its URL."""
    redis = debian_binary("redis-server", "redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(folder)]
    with running(command, port, "Redis"):
        yield f"redis://127.0.0.1:{port}/0"
