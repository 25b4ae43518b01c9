"""Shared fixtures: a fresh embedded store per test, and an optional real MongoDB."""

from __future__ import annotations

import os
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


def _mongo_target() -> str:
    """A throw-away database on the server given in MOFGEN_TEST_MONGO_URI."""
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(MONGO_URI)
    name = f"mofgen_test_{uuid.uuid4().hex[:8]}"
    base = MONGO_URI.split("?")[0]
    if parsed.get("database"):
        base = base.rsplit("/", 1)[0]
    query = "?" + MONGO_URI.split("?", 1)[1] if "?" in MONGO_URI else ""
    return f"{base.rstrip('/')}/{name}{query}"


@pytest.fixture(params=["embedded", "mongodb"])
def any_db_target(request, tmp_path):
    """The embedded store always; a real MongoDB too when MOFGEN_TEST_MONGO_URI is set."""
    if request.param == "embedded":
        yield str(tmp_path / "store")
        return
    if not MONGO_URI:
        pytest.skip("MOFGEN_TEST_MONGO_URI not set: no MongoDB server to test against")
    target = _mongo_target()
    yield target
    handle = connect(target)
    handle.client.drop_database(handle.name)
    handle.close()


def small_structure(index: int = 0) -> Structure:
    """A tiny distinct crystal per index (for documents; no science depends on it)."""
    a = 4.0 + 0.05 * index
    return Structure(Lattice.cubic(a), ["Zn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
