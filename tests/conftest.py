"""Shared fixtures: a fresh embedded store per test, and a MongoDB-wire-protocol server.

The server is ``MOFGEN_TEST_MONGO_URI`` when set, else a SecantusDB (``secantusdb``, the
``test`` extra) started once per session on 127.0.0.1; server tests skip, with the reason,
only when neither is available.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from mofgen.stores.connection import connect

MONGO_URI = os.environ.get("MOFGEN_TEST_MONGO_URI")


def _shared_reference() -> Path:
    """../shared/reference beside the checkout (as CI lays it out), else /work/shared."""
    for base in (os.environ.get("MOFGEN_SHARED"), Path(__file__).resolve().parents[2] / "shared",
                 "/work/shared"):
        if base and (Path(base) / "reference").is_dir():
            return Path(base) / "reference"
    return Path("/work/shared/reference")


REFERENCE = _shared_reference()
HMOF0 = str(REFERENCE / "hmof" / "hMOF-0.cif")


@pytest.fixture
def db_dir(tmp_path):
    return str(tmp_path / "store")


@pytest.fixture
def db(db_dir):
    handle = connect(db_dir)
    yield handle
    handle.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_secantus(storage: Path, host: str = "127.0.0.1", port: int | None = None,
                   timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """Start a SecantusDB server; ``(process, "mongodb://host:port/")`` once it answers."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    port = port or free_port(host)
    storage.mkdir(parents=True, exist_ok=True)
    log = open(storage.parent / f"{storage.name}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", host, "--port", str(port),
         "--storage-path", str(storage), "--log-level", "WARNING"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    uri = f"mongodb://{host}:{port}/"
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and process.poll() is None:
        try:
            MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            return process, uri
        except PyMongoError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    tail = (storage.parent / f"{storage.name}.log").read_text(errors="replace")[-300:]
    raise RuntimeError(f"SecantusDB did not start on {host}:{port}: {tail.strip()}")


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """A MongoDB-wire-protocol server: ``MOFGEN_TEST_MONGO_URI``, else SecantusDB here."""
    if MONGO_URI:
        yield MONGO_URI
        return
    if importlib.util.find_spec("secantus") is None:
        pytest.skip("no MongoDB server: MOFGEN_TEST_MONGO_URI is not set and SecantusDB "
                    "(pip install -e '.[test]') is not installed")
    try:
        process, uri = start_secantus(tmp_path_factory.mktemp("secantus") / "db")
    except (OSError, RuntimeError) as exc:
        pytest.skip(f"no MongoDB server: {exc}")
    yield uri
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def mongo_target(uri: str) -> str:
    """A throw-away database name on the server at ``uri`` (options kept)."""
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(uri)
    name = f"mofgen_test_{uuid.uuid4().hex[:8]}"
    base = uri.split("?")[0]
    if parsed.get("database"):
        base = base.rsplit("/", 1)[0]
    query = "?" + uri.split("?", 1)[1] if "?" in uri else ""
    return f"{base.rstrip('/')}/{name}{query}"


def drop_target(target: str) -> None:
    handle = connect(target, create=False)
    handle.client.drop_database(handle.name)
    handle.close()


@pytest.fixture
def server_target(mongo_uri):
    """A fresh database on the server, dropped afterwards."""
    target = mongo_target(mongo_uri)
    yield target
    drop_target(target)


BACKENDS = ["embedded", "mongodb"]


def new_target(request, tmp_path_factory, label: str) -> str:
    """A fresh database on the backend ``request.param`` names (module-scoped fixtures)."""
    if request.param == "embedded":
        return str(tmp_path_factory.mktemp(label) / "store")
    return mongo_target(request.getfixturevalue("mongo_uri"))


def forget_target(target: str) -> None:
    if target.startswith("mongodb"):
        drop_target(target)


@pytest.fixture(params=BACKENDS)
def any_db_target(request, tmp_path):
    """The embedded store, and a database on the wire-protocol server."""
    if request.param == "embedded":
        yield str(tmp_path / "store")
        return
    yield request.getfixturevalue("server_target")


@pytest.fixture
def any_db(any_db_target):
    """:func:`db` on each backend."""
    handle = connect(any_db_target)
    yield handle
    handle.close()


def small_structure(index: int = 0) -> Structure:
    """A tiny distinct crystal per index (for documents; no science depends on it)."""
    a = 4.0 + 0.05 * index
    return Structure(Lattice.cubic(a), ["Zn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


CLUSTER_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local-cluster.sh"


def _slurm_answers() -> bool:
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, text=True,
                              timeout=20).stdout.count("UP") >= 1
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def local_cluster():
    """SLURM and the database server of ``scripts/local-cluster.sh``; their ``mongodb://`` URI.

    Brought up here when SLURM does not answer yet (and taken down again at the end);
    configuring SLURM needs root, so without it the cluster tests skip with the reason.
    """
    was_up = _slurm_answers()
    if not was_up and os.geteuid() != 0:
        pytest.skip("no SLURM here, and configuring one (scripts/local-cluster.sh) needs root")
    env = {**os.environ, "PYTHON": sys.executable}
    up = subprocess.run(["bash", str(CLUSTER_SCRIPT), "up"], capture_output=True, text=True,
                        env=env, timeout=900)
    if up.returncode != 0:
        pytest.skip(f"scripts/local-cluster.sh up failed: {up.stderr.strip()[-300:]}")
    yield up.stdout.strip().splitlines()[-1]
    if not was_up:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "down"], capture_output=True, env=env,
                       timeout=300)
