"""The dashboard and the export of a crystal campaign of thousands of structures.

The campaign is test data, said plainly: 3,000 tiny crystal documents (two-atom cells,
made-up energies) inserted directly into a fresh embedded store, because what is tested is
how pages and the export read a large store, not the science of any one document. Every
document is a valid ``StructureDoc``; the export re-validates each one as it writes it.

Memory is checked by counting the documents the embedded store decodes (its ``bson``):
a page decodes about one page of documents however deep it is, and the export writes each
record while at most one fetch batch (``writer.BATCH``) of documents is held.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedStructureEntry

import mofgen.stores.embedded as embedded
from mofgen.crystal.energy import References
from mofgen.dashboard.app import create_app
from mofgen.documents import CampaignConfig, CampaignDoc, StructureDoc
from mofgen.export import writer
from mofgen.stores.connection import connect

N_DOCS = 3000
SIMULATED_EVERY = 3  # one document in three has a hull energy (the table's rows)
PER_PAGE = 50
NAME = "big"


def tiny_references() -> References:
    """Li-O references with made-up energies (eV/atom): no CHGNet needed to draw a hull."""
    entries = []
    for formula, e in (("Li", -1.9), ("O2", -4.9), ("Li2O", -4.3)):
        comp = Composition(formula)
        s = Structure(Lattice.cubic(3.5 * comp.num_atoms ** (1 / 3)), [str(el) for el, n in
                      comp.items() for _ in range(int(n))],
                      [[i / comp.num_atoms] * 3 for i in range(int(comp.num_atoms))])
        entries.append(ComputedStructureEntry(s, e * len(s), data={"name": formula}))
    return References(tuple(entries), "chgnet-0.3.0", {"relax_steps": 0})


def fake_docs(n: int) -> list[dict]:
    structure = Structure(Lattice.cubic(3.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cell = structure.as_dict()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    docs = []
    for i in range(n):
        t = start + dt.timedelta(seconds=i)
        doc = StructureDoc.from_structure(
            structure, NAME, kind="crystal", doc_id=f"c{i:05d}",
            identifiers={"formula": "LiO", "crystal_key": f"LiO:221:Li1,O1#{i % 7}"},
            origin={"generator": "test", "prototype": f"proto-{i % 13}"}).to_mongo()
        path = ["generated", "validated"]
        doc["validate"] = {"valid": True, "checks": [], "energy_per_atom": -3.0 + i * 1e-5,
                           "formation_energy_per_atom": -0.5 + i * 1e-5,
                           "method": "chgnet-0.3.0", "screener_version": None, "finished": t}
        if i % SIMULATED_EVERY == 0:
            path.append("simulated")
            e_hull = ((i * 7919) % 1000) / 1000  # distinct values in scrambled order
            doc["simulate"] = {"structure": cell, "energy_per_atom": -3.4 + e_hull,
                               "formation_energy_per_atom": -0.5 + e_hull,
                               "e_above_hull": e_hull, "near_hull": e_hull <= 0.1,
                               "hull_threshold": 0.1, "converged": True, "relax_steps": 10,
                               "method": "chgnet-0.3.0", "finished": t}
        doc.update(state=path[-1], created_at=t, updated_at=t, history=[
            {"from": a, "to": b, "time": t, "worker": "test", "versions": {}}
            for a, b in zip(["none", *path], path)])
        docs.append(doc)
    StructureDoc.from_mongo(docs[0])  # the shape the export re-validates
    return docs


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    db = connect(str(tmp_path_factory.mktemp("big") / "store"))
    config = CampaignConfig(kind="crystal", crystal={"system": "Li-O"})
    db.campaigns.insert_one(CampaignDoc(id=NAME, kind="crystal", config=config,
                                        status="running",
                                        references=tiny_references().as_dict()).to_mongo())
    db.structures.insert_many(fake_docs(N_DOCS))
    yield db
    db.close()


@pytest.fixture
def decoded(monkeypatch):
    """How many documents the embedded store has decoded since the last reset."""
    real = embedded.bson
    count = {"n": 0}

    class CountingBson:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def decode(blob, *args, **kwargs):
            count["n"] += 1
            return real.decode(blob, *args, **kwargs)

    monkeypatch.setattr(embedded, "bson", CountingBson())
    return count


def test_table_pages_cover_the_campaign_once_reading_one_page_each(big_store, decoded):
    client = create_app(big_store).test_client()
    simulated = math.ceil(N_DOCS / SIMULATED_EVERY)
    url = f"/api/campaigns/{NAME}/structures?sort=e_above_hull&per_page={PER_PAGE}"
    first = client.get(url).get_json()
    assert first["total"] == simulated and first["pages"] == math.ceil(simulated / PER_PAGE)
    seen, values, page, reads = [], [], first, []
    while True:
        assert len(page["rows"]) <= PER_PAGE
        seen += [r["id"] for r in page["rows"]]
        values += [r["e_above_hull"] for r in page["rows"]]
        if not page["next"]:
            break
        decoded["n"] = 0
        page = client.get(url + "&after=" + page["next"]).get_json()
        reads.append(decoded["n"])
    assert len(seen) == len(set(seen)) == simulated  # every row once, none skipped
    assert values == sorted(values)
    assert page["page"] == first["pages"]
    # a keyset page decodes about one page of documents, the last page as the second
    assert max(reads) <= PER_PAGE + 2 * SIMULATED_EVERY, reads
    assert max(reads) < simulated / 10


def test_campaign_page_links_its_pages(big_store):
    client = create_app(big_store).test_client()
    pages = math.ceil(math.ceil(N_DOCS / SIMULATED_EVERY) / PER_PAGE)
    html = client.get(f"/campaigns/{NAME}?per_page={PER_PAGE}").data.decode()
    assert f"page 1 of {pages}" in html
    link = re.search(r'id="next-page" href="([^"]+)"', html)
    assert link, "no link to the next page"
    second = client.get(f"/campaigns/{NAME}" + link.group(1).replace("&amp;", "&")
                        + f"&per_page={PER_PAGE}").data.decode()
    assert f"page 2 of {pages}" in second and "previous" in second
    last = client.get(f"/campaigns/{NAME}?per_page={PER_PAGE}&page={pages}").data.decode()
    assert f"page {pages} of {pages}" in last and 'id="next-page"' not in last
    assert client.get(f"/campaigns/{NAME}?per_page={PER_PAGE}&page={pages + 1}"
                      ).status_code == 404


def test_export_writes_each_record_as_it_is_read(big_store, decoded, monkeypatch, tmp_path):
    held: list[int] = []  # documents decoded but not yet written, at each write
    written = {"n": 0}
    real_record = writer.document_record

    def spying_record(doc):
        written["n"] += 1
        held.append(decoded["n"] - written["n"])
        return real_record(doc)

    monkeypatch.setattr(writer, "document_record", spying_record)
    real_selection = writer.selection

    def spying_selection(db, query):
        chosen = real_selection(db, query)  # ids and a date only: what it decoded is not kept
        decoded["n"] = 0  # count from here the documents the writing reads
        return chosen

    monkeypatch.setattr(writer, "selection", spying_selection)
    report = writer.export_campaign(big_store, NAME, tmp_path / "out",
                                    formats="jsonl,optimade")
    assert report.count == written["n"] == N_DOCS
    assert max(held) <= writer.BATCH, max(held)  # never more than one fetch batch
    assert min(held) >= 0
    lines = (tmp_path / "out" / "structures.jsonl").read_text().splitlines()
    ids = [json.loads(line)["_id"] for line in lines]
    assert len(ids) == N_DOCS and ids == sorted(ids)
    optimade = (tmp_path / "out" / "optimade.jsonl").read_text().splitlines()
    assert len(optimade) == N_DOCS + 1  # header + one entry per structure
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["count"] == N_DOCS
    assert metadata["states"] == {"simulated": math.ceil(N_DOCS / SIMULATED_EVERY),
                                  "validated": N_DOCS - math.ceil(N_DOCS / SIMULATED_EVERY)}
