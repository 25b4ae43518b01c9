"""Generator corpus: curated list, systematic expansion, 3D embedding, prompt/linker split."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mofgen.chemistry import LinkerRejected, process_linker
from mofgen.generator.corpus import build_corpus, entry_from_smiles, load_corpus
from mofgen.generator.linker_list import CORES, KNOWN_LINKERS, _variants, expand, flat_smiles


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOFGEN_CACHE", str(tmp_path / "cache"))


def test_expansion_is_large_deterministic_and_keeps_the_named_linkers():
    first, again = expand(seed=0), expand.__wrapped__(seed=0)  # cached and fresh
    assert first == again
    core = dict((name, smiles) for name, smiles in CORES)["biphenyl-4,4'-dicarboxylic acid (BPDC)"]
    seeded = [list(_variants(core, "COO", random.Random(k))) for k in (0, 0, 1)]
    assert seeded[0] == seeded[1] != seeded[2]
    assert len(first) >= 4000
    assert {c.anchor for c in first} == {"COO", "cyano"}
    smiles = {c.smiles for c in first}
    assert all(flat_smiles(s) and s.replace("[N+](=O)[O-]", "") for s in smiles)
    for _, known in KNOWN_LINKERS:
        assert flat_smiles(known) in {flat_smiles(s) for s in smiles}
    names = {c.name for c in first}
    assert "terephthalic acid (BDC)" in names and len(CORES) >= 30
    # hMOF-style derivatives: functional groups, aza swaps, spacer extensions
    assert any("F" in s for s in smiles) and any("N(" in s or "n" in s for s in smiles)
    assert any("C#C" in s for s in smiles)


def test_entry_splits_prompt_and_linker_and_survives_reprocessing():
    entry = entry_from_smiles("OC(=O)c1ccc(cc1)C(=O)O", name="BDC")
    assert entry.anchor == "COO" and entry.n_fragment == 6 and entry.n_linker == 6
    assert entry.symbols[:3] == ["C", "O", "O"] and entry.symbols[3:6] == ["C", "O", "O"]
    again = process_linker(entry.symbols, entry.positions, "COO")
    assert flat_smiles(again.smiles) == flat_smiles(entry.smiles)
    cyano = entry_from_smiles("N#Cc1ccc(cc1)-c1ccc(cc1)C#N")
    assert cyano.anchor == "cyano" and cyano.symbols[:4] == ["C", "N", "C", "N"]
    assert cyano.n_linker == 12
    with pytest.raises(LinkerRejected):
        entry_from_smiles("OC(=O)c1ccccc1")  # one anchor: not a linker


def test_corpus_build_is_cached_and_deterministic(tmp_path):
    first = build_corpus(seed=3, per_anchor=12)
    assert not first["cached"] and first["molecules"] >= 20
    assert set(first["by_anchor"]) == {"COO", "cyano"}
    again = build_corpus(seed=3, per_anchor=12)
    assert again["cached"] and again["path"] == first["path"]
    entries = load_corpus(first["path"])
    rebuilt = build_corpus(seed=3, per_anchor=12, force=True)
    assert [e.smiles for e in load_corpus(rebuilt["path"])] == [e.smiles for e in entries]
    assert np.allclose(load_corpus(rebuilt["path"])[5].positions, entries[5].positions)
