"""``mofgen generate`` / ``train`` / ``corpus`` from the command line, with the shipped model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mofgen.documents import ModelVersionDoc
from mofgen.generator.checkpoints import shipped_version
from mofgen.stores.connection import connect


def mofgen(*args: str, cache: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MOFGEN_DB", None)
    if cache:
        env["MOFGEN_CACHE"] = cache
    return subprocess.run([sys.executable, "-m", "mofgen.cli", *args], capture_output=True,
                          text=True, timeout=900, env=env)


def _shipped_metrics() -> dict:
    out = mofgen("generate", "--metrics", "--n", "48", "--json", "--threads", "1")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["model_version"] == shipped_version()
    return report["metrics"]


@pytest.fixture(scope="module")
def shipped_metrics() -> dict:
    return _shipped_metrics()


def test_shipped_model_quality_metrics_are_measured_and_printed(shipped_metrics):
    """Both anchor kinds give valid, unique, novel linkers; the numbers come from sampling."""
    for anchor in ("COO", "cyano"):
        assert shipped_metrics[f"{anchor}_samples"] == 48
        assert shipped_metrics[f"{anchor}_validity"] > 0, shipped_metrics
        assert shipped_metrics[f"{anchor}_uniqueness"] >= 0.80, shipped_metrics
        assert shipped_metrics[f"{anchor}_novelty"] > 0, shipped_metrics
        assert shipped_metrics[f"{anchor}_heavy_atoms"] > 8
    assert shipped_metrics["COO_validity"] >= 0.2, shipped_metrics
    human = mofgen("generate", "--metrics", "--n", "4", "--anchor", "cyano")
    assert human.returncode == 0 and "validity" in human.stdout and "cyano" in human.stdout


def test_shipped_model_reaches_the_30_percent_validity_floor(shipped_metrics):
    """Issue 5's floor: >= 30 % of sampled linkers of both anchor kinds pass processing,
    >= 80 % of those are distinct, and some are absent from the training corpus."""
    for anchor in ("COO", "cyano"):
        assert shipped_metrics[f"{anchor}_validity"] >= 0.30, shipped_metrics
        assert shipped_metrics[f"{anchor}_uniqueness"] >= 0.80, shipped_metrics
        assert shipped_metrics[f"{anchor}_novelty"] > 0, shipped_metrics


def test_generate_json_records_the_model_version(tmp_path):
    out = mofgen("generate", "--n", "5", "--anchor", "cyano", "--json", "--steps", "30")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 5 and len(report["linkers"]) == 5
    assert {x["model_version"] for x in report["linkers"]} == {shipped_version()}
    assert all(x["anchor"] == "cyano" for x in report["linkers"])
    saved = mofgen("generate", "--n", "3", "--steps", "20", "--save", "--db",
                   str(tmp_path / "store"))
    assert saved.returncode == 0, saved.stderr
    db = connect(str(tmp_path / "store"))
    try:
        docs = list(db.linkers.find())
        assert len(docs) == 3 and {d["model_version"] for d in docs} == {shipped_version()}
        assert db.models.find_one({"_id": shipped_version()}) is not None
    finally:
        db.close()


@pytest.mark.parametrize("args, message", [
    (["--n", "2", "--anchor", "sulfonate"], "unknown anchor type 'sulfonate'"),
    (["--n", "0"], "argument --n: expected an integer >= 1"),
    (["--n", "-3", "--anchor", "COO"], "argument --n: expected an integer >= 1"),
    (["--n", "2", "--model", "gen-missing"], "generator version gen-missing not found"),
    (["--n", "2", "--model", "gen-corrupt"], "corrupt or incompatible generator checkpoint"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    store = str(tmp_path / "store")
    db = connect(store)
    bad = ModelVersionDoc(_id="gen-corrupt", checkpoint_file_id=db.gridfs().put(b"PK\x03\x04"))
    db.models.insert_one(bad.to_mongo())
    db.close()
    out = mofgen("generate", "--db", store, *args)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mofgen generate: error:"), out.stderr
    assert message in lines[0]


def test_train_pretrains_then_finetunes_and_registers_versions(tmp_path):
    cache, store = str(tmp_path / "cache"), str(tmp_path / "store")
    out = mofgen("train", "--db", store, "--corpus-per-anchor", "6", "--epochs", "2",
                 "--hidden", "16", "--layers", "2", "--metrics-n", "3", "--json",
                 "--export", str(tmp_path / "tiny.pt"), cache=cache)
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["parent"] is None and "COO_validity" in first["metrics"]
    assert (tmp_path / "tiny.pt").stat().st_size > 1000
    smiles = tmp_path / "good.smi"
    smiles.write_text("OC(=O)c1ccc(cc1)C(=O)O\nNc1cc(ccc1C(=O)O)C(=O)O\n")
    out = mofgen("train", "--db", store, "--from", first["version"], "--smiles", str(smiles),
                 "--epochs", "1", "--metrics-n", "0", "--json", cache=cache)
    assert out.returncode == 0, out.stderr
    second = json.loads(out.stdout)
    assert second["parent"] == first["version"]
    db = connect(store)
    try:
        doc = db.models.find_one({"_id": second["version"]})
        assert doc["training_set_ids"] == ["smiles:OC(=O)c1ccc(cc1)C(=O)O",
                                           "smiles:Nc1cc(ccc1C(=O)O)C(=O)O"]
        assert doc["metrics"]["train_seconds"] >= 0
    finally:
        db.close()
    missing = mofgen("train", "--db", store, "--from", "gen-nope", "--smiles", str(smiles))
    assert missing.returncode != 0 and "gen-nope not found" in missing.stderr
    corpus = mofgen("corpus", "build", "--per-anchor", "6", cache=cache)
    assert corpus.returncode == 0 and "cached" in corpus.stdout
