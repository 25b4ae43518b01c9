"""The dashboard: pages, JSON API, 404/400, read-only access and bounded (paged) queries."""

from __future__ import annotations

import json

import pytest

from mofgen.chemistry import assemble_mof
from mofgen.dashboard import queries as q
from mofgen.dashboard.app import create_app
from mofgen.stores.connection import connect
from tests.conftest import BACKENDS, forget_target, new_target
from tests.helpers.seed import seed_campaign

LINKERS = ["OC(=O)c1ccc(cc1)C(=O)O", "OC(=O)c1ccc(C(=O)O)cc1C"]


def seed_store(target: str, n: int = 200) -> list[str]:
    db = connect(target)
    structures = [assemble_mof([s], pillar="C1CN2CCN1CC2").structure for s in LINKERS]
    ids = seed_campaign(db, "demo", n, structures, smiles=LINKERS)
    db.close()
    return ids


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request, tmp_path_factory):
    """A seeded campaign on the embedded store and on the wire-protocol server."""
    target = new_target(request, tmp_path_factory, "dash")
    yield target, seed_store(target)
    forget_target(target)


@pytest.fixture
def client(seeded):
    db = connect(seeded[0], create=False)
    yield create_app(db).test_client(), db
    db.close()


def test_pages_and_api(client, seeded):
    c, db = client
    ids = seeded[1]
    home = c.get("/")
    assert home.status_code == 200 and b"/campaigns/demo" in home.data
    page = c.get("/campaigns/demo")
    assert page.status_code == 200 and b"top-table" in page.data
    summary = c.get("/api/campaigns/demo").get_json()
    assert sum(summary["states"].values()) == len(ids)
    assert summary["states"]["adsorbed"] == db.structures.count_documents(
        {"campaign": "demo", "state": "adsorbed"})
    assert summary["models"] and summary["decisions"] and summary["queues"]["cpu"]["READY"] >= 1
    charts = c.get("/api/campaigns/demo/charts").get_json()
    assert sum(charts["uptake_hist"]["counts"]) == db.structures.count_documents(
        {"campaign": "demo", "adsorb.co2_uptake": {"$gte": -1}})
    assert sum(charts["throughput"]["generate"]) == len(ids)
    assert charts["stable_cumulative"][-1] == db.structures.count_documents(
        {"campaign": "demo", "validate.strain": {"$lt": 0.1}})
    table = c.get("/api/campaigns/demo/structures?sort=strain&order=asc&per_page=10").get_json()
    strains = [r["strain"] for r in table["rows"]]
    assert strains == sorted(strains) and len(strains) == 10
    doc_id = table["rows"][0]["id"]
    html = c.get(f"/structures/{doc_id}")
    assert html.status_code == 200 and b"<svg" in html.data and b"viewer" in html.data
    cif = c.get(f"/structures/{doc_id}.cif")
    assert cif.status_code == 200 and b"_atom_site_fract_x" in cif.data
    assert json.loads(c.get(f"/structures/{doc_id}.json").data)["_id"] == doc_id
    assert c.get("/vendor/plotly.min.js").status_code == 200
    assert c.get("/vendor/3Dmol-min.js").status_code == 200


@pytest.mark.parametrize("url,status", [
    ("/campaigns/nope", 404), ("/structures/nope", 404), ("/structures/nope.cif", 404),
    ("/api/structures/nope", 404), ("/api/campaigns/nope", 404),
    ("/api/campaigns/nope/charts", 404), ("/api/campaigns/demo/structures?page=9999", 404),
    ("/api/campaigns/demo/structures?page=abc", 400),
    ("/api/campaigns/demo/structures?sort=evil", 400),
    ("/api/campaigns/demo/structures?order=sideways", 400),
    ("/api/campaigns/demo/structures?per_page=100000", 400),
    ("/campaigns/demo?page=0", 400), ("/no/such/page", 404),
])
def test_bad_requests_are_clear(client, url, status):
    c, _ = client
    response = c.get(url)
    assert response.status_code == status
    if url.startswith("/api/"):
        assert response.get_json()["status"] == status and response.get_json()["error"]
    else:
        assert str(status).encode() in response.data


def test_read_only(client):
    c, db = client
    before = db.structures.count_documents({})
    for method in (c.post, c.put, c.delete):
        assert method("/campaigns/demo").status_code == 405
        assert method("/api/structures/x").status_code == 405
    rdb = q.ReadOnlyDB(db)
    with pytest.raises(AttributeError, match="read-only"):
        rdb.structures.insert_one({"_id": "x"})
    with pytest.raises(AttributeError, match="read-only"):
        rdb.campaigns.update_one({}, {"$set": {"status": "x"}})
    assert db.structures.count_documents({}) == before


def test_pages_read_only_what_they_show(client, monkeypatch):
    """Paged table queries decode about one page of documents, counts decode none."""
    import mofgen.stores.embedded as embedded

    c, db = client
    decoded = {"n": 0}
    real = embedded.bson

    class CountingBson:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def decode(blob, *args, **kwargs):
            decoded["n"] += 1
            return real.decode(blob, *args, **kwargs)

    monkeypatch.setattr(embedded, "bson", CountingBson())
    total = db.structures.count_documents({"campaign": "demo"})
    assert decoded["n"] == 0  # answered from the index
    for sort in q.sorts_for("mof"):
        decoded["n"] = 0
        page = q.top_structures(q.ReadOnlyDB(db), "demo", sort=sort, page=2, per_page=10)
        assert len(page["rows"]) == 10
        assert decoded["n"] <= 2 * 10 + 2, (sort, decoded["n"])  # skip + limit, not `total`
    first = q.top_structures(q.ReadOnlyDB(db), "demo", sort="created", per_page=10)
    decoded["n"] = 0
    q.top_structures(q.ReadOnlyDB(db), "demo", sort="created", per_page=10, after=first["next"])
    assert decoded["n"] <= 10 + 2  # keyset cursor: one page of reads however deep
    decoded["n"] = 0
    q.campaign_summary(q.ReadOnlyDB(db), "demo")
    assert decoded["n"] < 60 < total


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dashboard_command_serves_on_loopback(seeded):
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mofgen.cli", "dashboard", "--db", seeded[0], "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline, body = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/campaigns") as r:
                    body = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.3)
        assert json.loads(body)["campaigns"][0]["name"] == "demo"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_command_bad_db_is_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mofgen.cli", "dashboard", "--db", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("sort,order", [("co2_uptake", None), ("strain", "asc"),
                                        ("created", "desc"), ("heat", "desc")])
def test_keyset_pages_cover_everything_once(client, sort, order):
    c, db = client
    path = q.sorts_for("mof")[sort][0]
    url = f"/api/campaigns/demo/structures?sort={sort}&per_page=7"
    url += f"&order={order}" if order else ""
    seen, response = [], c.get(url).get_json()
    while True:
        seen += [r["id"] for r in response["rows"]]
        if not response["next"]:
            break
        response = c.get(url + "&after=" + response["next"]).get_json()
    bound = {"$gte": -1e300} if not path.endswith("_at") else {"$exists": True}
    expected = {d["_id"] for d in db.structures.find({"campaign": "demo", path: bound})}
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    assert c.get(url + "&after=garbage!").status_code == 400


def test_a_third_kind_is_shown_and_exported_with_the_base_hooks(tmp_path):
    """The toy kind (tests/helpers/toy_kind.py) declares only a ladder and a column: its
    campaign page, table, charts, structure page and export work without any code for it."""
    from pymatgen.core import Lattice, Structure

    import mofgen.kinds
    from mofgen.campaigns import open_campaign
    from mofgen.documents import CampaignConfig, StructureDoc
    from mofgen.export import export_campaign
    from mofgen.states import StateMachine
    from tests.helpers.toy_kind import DENSITY, ToyKind

    mofgen.kinds.register_kind(ToyKind())
    db = connect(str(tmp_path / "store"))
    try:
        open_campaign(db, "toys", CampaignConfig.model_validate({"kind": "toy"}))
        machine = StateMachine(db.structures, worker="test", kind="toy")
        for i, a in enumerate((3.0, 3.5, 4.0)):  # simple-cubic Cu, the first two measured
            structure = Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]])
            assert machine.create(StructureDoc.from_structure(structure, "toys", kind="toy",
                                                              doc_id=f"toy-{i}"))
            if i < 2:
                assert machine.claim_id(f"toy-{i}", "measure")
                machine.complete(f"toy-{i}", "measure",
                                 {"density_g_per_cm3": structure.density})
        c = create_app(db).test_client()
        page = c.get("/campaigns/toys")
        assert page.status_code == 200 and b'id="sort-density"' in page.data
        assert b'data-state="validated"' in page.data and b'data-state="adsorbed"' not in page.data
        table = c.get("/api/campaigns/toys/structures").get_json()
        assert table["sort"] == "density" and [r["id"] for r in table["rows"]] == ["toy-1", "toy-0"]
        assert table["rows"][0]["density"] == db.structures.find_one({"_id": "toy-1"})[
            "measure"]["density_g_per_cm3"]
        charts = c.get("/api/campaigns/toys/charts").get_json()
        assert charts["kind"] == "toy" and charts["states"] == ["generated", "validated"]
        assert charts["reached"] == {"generated": 3, "validated": 2}
        assert sum(charts["throughput"]["measure"]) == 2 and charts["plots"] == []
        assert c.get("/api/campaigns/toys/phase-diagram").status_code == 404
        page = c.get("/structures/toy-0")
        assert page.status_code == 200 and b'data-key="measure.density_g_per_cm3"' in page.data
        report = export_campaign(db, "toys", tmp_path / "out", min_state="validated")
    finally:
        db.close()
    assert report.count == 2
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["units"] == {"density": "g/cm3"} and meta["kind"] == "toy"
    assert DENSITY.split(".")[0] in (tmp_path / "out" / "structures.jsonl").read_text()
    assert "2 toy structures" in (tmp_path / "out" / "README.md").read_text()
