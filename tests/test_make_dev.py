"""`make dev PORT=...`: a port already in use, or not a port, is one clear line before
anything is installed or started (the port check is dev's first prerequisite)."""

import shutil
import socket
import subprocess

import pytest

from pipeline.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make_dev(port: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "dev", f"PORT={port}"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_port_in_use_is_named_with_what_to_do():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = make_dev(str(port))
    assert result.returncode != 0
    assert f"make dev: port {port} on 127.0.0.1 is in use" in result.stderr
    assert "make dev PORT=3001" in result.stderr and "Traceback" not in result.stderr


def test_a_port_that_is_no_number_is_named():
    result = make_dev("http")
    assert result.returncode != 0 and "PORT='http' is not a port number" in result.stderr


def test_dev_binds_loopback_on_the_given_port():
    dry = subprocess.run(["make", "-n", "dev", "PORT=3001"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert "dagster dev -w workspace.yaml -h 127.0.0.1 -p 3001" in dry.stdout
