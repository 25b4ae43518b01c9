"""The one model registry (mofgen.models) for generator and screener versions."""

from __future__ import annotations

import time

import pytest

from mofgen import models
from mofgen.errors import InvalidInput, NotFound


def test_register_is_idempotent_and_ids_name_the_checkpoint(db):
    gen_id = models.new_version_id("generator", b"weights")
    assert gen_id.startswith("gen-") and gen_id.endswith(models.digest(b"weights")[:6])
    assert models.new_version_id("screener", b"weights").startswith("scr-")
    first = models.register(db, "generator", b"weights", version="gen-a", campaign="c",
                            training_set_ids=["s1", "s2"], metrics={"loss": 1})
    again = models.register(db, "generator", b"other bytes", version="gen-a", campaign="c")
    assert again.id == first.id == "gen-a" and again.metrics == {"loss": 1.0}
    assert db.models.count_documents({}) == 1
    stored = db.read_checkpoint(db.models.find_one({"_id": "gen-a"}), "generator")
    assert stored == b"weights"  # the first registration's bytes, not overwritten
    models.update_metrics(db, "gen-a", {"validity": 0.6})
    assert models.get_version(db, "gen-a").metrics == {"loss": 1.0, "validity": 0.6}


def test_current_version_skips_versions_that_were_not_promoted(db):
    def add(version, kind, campaign, **metrics):
        models.register(db, kind, version.encode(), version=version, campaign=campaign,
                        metrics=metrics)
        time.sleep(0.002)  # distinct created_at, which orders versions

    assert models.current_version(db, "screener", "c1") is None
    add("scr-1", "screener", "c1", promoted=1)
    add("scr-2", "screener", "c1", promoted=0)  # newer, kept, not adopted
    add("scr-3", "screener", "c2", promoted=1)
    add("gen-1", "generator", "c1")  # no 'promoted' metric: adopted when newest
    add("gen-2", "generator", "c1", loss=0.5)
    add("gen-3", "generator", "c1", promoted=0)  # lost validity: generation stays on gen-2
    assert models.current_version(db, "screener", "c1") == "scr-1"
    assert models.current_version(db, "screener", "c2") == "scr-3"
    assert models.current_version(db, "generator", "c1") == "gen-2"
    assert models.latest_version(db, "screener", "c1") == "scr-2"
    assert models.latest_version(db, "generator") == "gen-3"
    assert [v.id for v in models.list_versions(db, "screener")] == ["scr-3", "scr-2", "scr-1"]
    assert [v.id for v in models.list_versions(db, campaign="c2")] == ["scr-3"]


def test_clear_errors(db):
    with pytest.raises(InvalidInput, match="unknown model kind 'potential'"):
        models.register(db, "potential", b"x")
    with pytest.raises(NotFound, match=r"screener version scr-x not found \(no screener"):
        models.load(db, "screener", "scr-x")
    with pytest.raises(NotFound, match="no database given"):
        models.load(None, "screener", "scr-x")
    models.register(db, "generator", b"x", version="gen-x")
    with pytest.raises(InvalidInput, match="gen-x is a generator, not a screener"):
        models.load(db, "screener", "gen-x")
