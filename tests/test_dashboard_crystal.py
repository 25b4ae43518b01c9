"""The dashboard for crystal campaigns: phase diagram, E_hull chart and table, structure page."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedStructureEntry

from mofgen.crystal.energy import References, energy_above_hull, formation_energy_per_atom
from mofgen.dashboard import queries as q
from mofgen.dashboard.app import create_app
from mofgen.documents import CampaignConfig, CampaignDoc, StructureDoc, utcnow
from mofgen.stores.connection import connect
from tests.conftest import small_structure
from tests.helpers.seed import seed_campaign

MU = {"Li": -1.9, "Fe": -8.3, "O": -4.9}  # eV/atom, close to CHGNet's elemental energies
REFERENCE_EF = {"Li": 0.0, "Fe": 0.0, "O2": 0.0, "Li2O": -2.07, "FeO": -1.35,
                "Fe2O3": -1.70, "LiFeO2": -1.85}  # formation energies (eV/atom); FeO off-hull
# id → (formula, final state, E_hull eV/atom or None when not simulated, prototype)
CANDIDATES = {
    "crystal-a": ("LiFe5O8", "simulated", 0.02, "spinel"),
    "crystal-b": ("Li5FeO4", "simulated", 0.35, "antifluorite"),
    "crystal-c": ("Fe3O4", "retrained", -0.01, "spinel"),
    "crystal-d": ("LiFeO2", "validated", None, "rocksalt"),
    "crystal-e": ("Li2FeO3", "generated", None, "layered"),
    "crystal-f": ("LiFe2O4", "failed", None, "spinel"),
}
SIMULATED = [k for k, v in CANDIDATES.items() if v[2] is not None]


def cell(formula: str, scale: float = 1.0) -> Structure:
    """A small cell with ``formula``'s atoms spread out (no science depends on the geometry)."""
    species = [str(el) for el, n in Composition(formula).items() for _ in range(int(n))]
    n = len(species)
    a = 2.6 * n ** (1 / 3) * scale
    coords = [[i / n, (0.37 * i) % 1.0, (0.61 * i) % 1.0] for i in range(n)]
    return Structure(Lattice.cubic(a), species, coords)


def references(system: str = "Fe-Li-O") -> References:
    """Reference phases of ``system`` with plausible energies, without running CHGNet."""
    elements = set(system.split("-"))
    entries = []
    for name, ef in REFERENCE_EF.items():
        comp = Composition(name)
        if {e.symbol for e in comp.elements} - elements:
            continue
        energy = sum(comp.get_atomic_fraction(el) * MU[el.symbol] for el in comp.elements) + ef
        structure = cell(name)
        entries.append(ComputedStructureEntry(structure, energy * len(structure),
                                              data={"name": name, "source": "test"}))
    return References(tuple(entries), "chgnet-0.3.0", {"relax_steps": 5})


def crystal_doc(doc_id: str, campaign: str, formula: str, state: str, e_hull: float | None,
                prototype: str, refs: References, start: dt.datetime) -> dict:
    structure = cell(formula)
    path = {"generated": ["generated"], "validated": ["generated", "validated"],
            "simulated": ["generated", "validated", "simulated"],
            "retrained": ["generated", "validated", "simulated", "retrained"],
            "failed": ["generated", "validated", "failed"]}[state]
    times = {s: start + dt.timedelta(minutes=10 * i) for i, s in enumerate(path)}
    doc = StructureDoc.from_structure(
        structure, campaign, kind="crystal", doc_id=doc_id,
        identifiers={"crystal_key": f"{Composition(formula).reduced_formula}:227"},
        origin={"generator": "substitution", "prototype": prototype,
                "substitution": {"Al3+": "Fe3+"}, "probability": 0.02},
    ).to_mongo()
    doc.update(state=state, created_at=start, updated_at=times[path[-1]], history=[
        {"from": a, "to": b, "time": times[b], "worker": "test",
         "versions": {"mofgen": "0.1.0"}} for a, b in zip(["none", *path], path)])
    comp = structure.composition
    hull = -energy_above_hull(comp, 0.0, refs)  # the hull's energy at this composition
    if "validated" in times:
        screen = hull + (e_hull if e_hull is not None else 0.05) + 0.05  # unrelaxed: higher
        check = {"name": "distances", "passed": True, "value": 1.9, "limit": 0.5,
                 "detail": "shortest distance (Å)"}
        doc["validate"] = {"valid": True, "checks": [check], "energy_per_atom": screen,
                           "formation_energy_per_atom": formation_energy_per_atom(
                               comp, screen, refs),
                           "method": refs.method, "screener_version": None,
                           "finished": times["validated"]}
    if e_hull is not None:
        energy = hull + e_hull
        doc["simulate"] = {
            "structure": cell(formula, scale=1.02).as_dict(), "energy_per_atom": energy,
            "formation_energy_per_atom": formation_energy_per_atom(comp, energy, refs),
            "e_above_hull": energy_above_hull(comp, energy, refs),
            "near_hull": e_hull <= 0.1, "hull_threshold": 0.1, "converged": True,
            "relax_steps": 42, "method": refs.method, "finished": times["simulated"]}
    if state == "retrained":
        doc["retrain"] = {"model_version": "screener-v1", "finished": times["retrained"]}
    if state == "failed":
        doc["failure"] = {"stage": "simulate", "message": "relaxation diverged"}
    StructureDoc.from_mongo(doc)  # what the dashboard reads is a valid document
    return doc


def crystal_campaign(db, name: str, system: str = "Fe-Li-O", refs: References | None = None,
                     docs: dict | None = None) -> list[str]:
    config = CampaignConfig(kind="crystal", crystal={"system": system})
    camp = CampaignDoc(id=name, kind="crystal", config=config, status="running",
                       references=refs.as_dict() if refs else None)
    db.campaigns.replace_one({"_id": name}, camp.to_mongo(), upsert=True)
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=2)
    rows = [crystal_doc(i, name, *spec, refs, start + dt.timedelta(minutes=k))
            for k, (i, spec) in enumerate((docs or {}).items())]
    if rows:
        db.structures.insert_many(rows)
    return [r["_id"] for r in rows]


def seed_crystal_store(target: str) -> None:
    """Crystal campaigns (full, references only, nothing yet, binary, broken) and a MOF one."""
    db = connect(target)
    try:
        refs = references()
        crystal_campaign(db, "fe-li-o", refs=refs, docs=CANDIDATES)
        crystal_campaign(db, "refs-only", refs=refs, docs={
            f"ro-{k}": v for k, v in CANDIDATES.items() if v[2] is None})
        crystal_campaign(db, "empty")
        crystal_campaign(db, "li-o", system="Li-O", refs=references("Li-O"),
                         docs={"lio-a": ("Li2O2", "simulated", 0.05, "peroxide")})
        crystal_campaign(db, "broken")
        db.campaigns.update_one({"_id": "broken"}, {"$set": {"references": {
            "method": "x", "entries": [{"not": "an entry"}]}}})
        seed_campaign(db, "mofs", 30, [small_structure(i) for i in range(3)])
    finally:
        db.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    target = str(tmp_path_factory.mktemp("dashx") / "store")
    seed_crystal_store(target)
    db = connect(target, create=False)
    yield create_app(db).test_client(), db
    db.close()


def embedded_pd(page: bytes) -> dict:
    match = re.search(rb'<script type="application/json" id="phase-diagram-data">(.*?)</script>',
                      page, re.S)
    assert match, "no phase-diagram data in the page"
    return json.loads(match.group(1))


def traces(figure: dict) -> dict[str, dict]:
    return {t["name"]: t for t in figure["data"]}


def test_campaign_page_draws_the_phase_diagram(client):
    c, db = client
    page = c.get("/campaigns/fe-li-o")
    assert page.status_code == 200
    text = page.data.decode()
    assert 'id="plot-phase-diagram"' in text and 'id="plot-ehull"' in text
    assert "plot-uptake" not in text and "plot-strain" not in text  # MOF charts
    assert 'data-state="adsorbed"' not in text  # crystals skip adsorption
    pd = embedded_pd(page.data)
    by_name = traces(pd["figure"])
    assert set(by_name) == {"hull", "references on hull", "references above hull", "candidates"}
    assert sorted(by_name["references on hull"]["text"]) == sorted(
        ["Li", "Fe", "O2", "Li2O", "Fe2O3", "LiFeO2"])
    assert by_name["references above hull"]["text"] == ["FeO"]
    cands = by_name["candidates"]
    assert sorted(cands["customdata"]) == sorted(SIMULATED)
    assert len(cands["a"]) == len(cands["b"]) == len(cands["c"]) == len(SIMULATED)
    labels = dict(zip(cands["customdata"], cands["text"]))
    assert labels["crystal-a"] == "LiFe5O8" and labels["crystal-c"] == "Fe3O4"
    assert labels["crystal-b"] == ""  # far from the hull: not labelled
    # the best-candidates table, lowest E_hull first, with the prototype
    rows = re.findall(r'class="sid" href="/structures/([^"]+)"', text)
    assert rows == ["crystal-c", "crystal-a", "crystal-b"]
    assert "spinel" in text and "Al3+→Fe3+" in html.unescape(text)
    assert c.get("/campaigns/fe-li-o?sort=formation_energy&order=desc").status_code == 200


def test_new_phase_below_the_hull_is_a_vertex(client):
    _, db = client
    pd = q.phase_diagram(q.ReadOnlyDB(db), "fe-li-o")
    hull = traces(pd["figure"])["hull"]
    points = {(a, b, c) for a, b, c in zip(hull["a"], hull["b"], hull["c"]) if a is not None}
    fe3o4 = Composition("Fe3O4")
    assert (fe3o4.get_atomic_fraction("Fe"), 0.0, fe3o4.get_atomic_fraction("O")) in points
    assert pd["elements"] == ["Fe", "Li", "O"] and pd["method"] == "chgnet-0.3.0"
    feo = next(r for r in pd["references"] if r["name"] == "FeO")
    assert not feo["stable"] and feo["e_above_hull"] == pytest.approx(1.7 / 0.6 * 0.5 - 1.35)


def test_api_phase_diagram_and_charts(client):
    c, db = client
    pd = c.get("/api/campaigns/fe-li-o/phase-diagram").get_json()
    stored = {d["_id"]: d["simulate"]["e_above_hull"]
              for d in db.structures.find({"campaign": "fe-li-o", "simulate": {"$exists": True}})}
    assert {r["id"]: r["e_above_hull"] for r in pd["candidates"]} == stored
    assert [r["id"] for r in pd["candidates"]] == ["crystal-c", "crystal-a", "crystal-b"]
    assert pd["candidates_total"] == 3 and pd["hull_threshold"] == 0.1 and not pd["message"]
    assert {r["id"]: r["near_hull"] for r in pd["candidates"]} == {
        "crystal-a": True, "crystal-b": False, "crystal-c": True}
    assert len(pd["references"]) == 7 and pd["figure"]["layout"]["ternary"]

    charts = c.get("/api/campaigns/fe-li-o/charts").get_json()
    assert charts["kind"] == "crystal" and "uptake_hist" not in charts
    assert sum(charts["ehull_hist"]["counts"]) == 3
    edges = charts["ehull_hist"]["edges"]
    assert edges[0] == min(stored.values()) and max(stored.values()) < edges[-1]
    assert charts["near_hull_cumulative"][-1] == 2
    assert sum(charts["throughput"]["generate"]) == len(CANDIDATES)
    assert sum(charts["throughput"]["simulate"]) == 3 and "adsorb" not in charts["throughput"]
    assert charts["reached"]["simulated"] == 3

    table = c.get("/api/campaigns/fe-li-o/structures").get_json()
    assert table["sort"] == "e_above_hull" and table["order"] == "asc"
    assert [r["e_above_hull"] for r in table["rows"]] == sorted(stored.values())
    assert table["rows"][0]["prototype"] == "spinel"
    screen = c.get("/api/campaigns/fe-li-o/structures?sort=screen_formation_energy").get_json()
    assert screen["total"] == 5  # every validated crystal was screened
    summary = c.get("/api/campaigns/fe-li-o").get_json()
    assert summary["system"] == "Fe-Li-O" and summary["references"]["count"] == 7


def test_crystal_campaigns_without_results_render(client):
    c, _ = client
    for name, message in (("empty", "no reference phases"), ("refs-only", "no simulated"),
                          ("broken", "cannot be used")):
        page = c.get(f"/campaigns/{name}")
        assert page.status_code == 200, name
        pd = embedded_pd(page.data)
        assert message in pd["message"], name
        assert message in page.data.decode()
        api = c.get(f"/api/campaigns/{name}/phase-diagram")
        assert api.status_code == 200 and api.get_json()["candidates"] == []
        charts = c.get(f"/api/campaigns/{name}/charts").get_json()
        assert charts["ehull_hist"] == {"edges": [], "counts": []}
    assert embedded_pd(c.get("/campaigns/empty").data)["figure"] is None
    assert b'id="plot-phase-diagram"' not in c.get("/campaigns/empty").data
    refs_only = embedded_pd(c.get("/campaigns/refs-only").data)["figure"]
    assert "candidates" not in traces(refs_only) and "references on hull" in traces(refs_only)


def test_binary_system_plot(client):
    c, _ = client
    pd = c.get("/api/campaigns/li-o/phase-diagram").get_json()
    by_name = traces(pd["figure"])
    assert by_name["candidates"]["customdata"] == ["lio-a"]
    assert by_name["hull"]["x"] == [0.0, pytest.approx(1 / 3), 1.0]
    assert by_name["hull"]["y"][1] == pytest.approx(-2.07)
    assert pd["figure"]["layout"]["yaxis"]["title"]["text"] == "formation energy (eV/atom)"


def test_crystal_structure_page(client):
    c, db = client
    page = c.get("/structures/crystal-a")
    assert page.status_code == 200
    text = html.unescape(page.data.decode())
    assert 'id="crystal-origin"' in text and "spinel" in text and "Al3+ → Fe3+" in text
    stored = db.structures.find_one({"_id": "crystal-a"})
    hull = re.search(r'data-key="simulate.e_above_hull">([^<]+)<', text).group(1)
    assert float(hull) == pytest.approx(stored["simulate"]["e_above_hull"], abs=1e-6)
    assert 'data-key="validate.formation_energy_per_atom"' in text
    assert "not relaxed yet" in c.get("/structures/crystal-d").data.decode()
    assert "not screened yet" in c.get("/structures/crystal-e").data.decode()
    cif = Structure.from_str(c.get("/structures/crystal-a.cif").data.decode(), fmt="cif")
    relaxed = Structure.from_dict(stored["simulate"]["structure"])
    assert cif.lattice.a == pytest.approx(relaxed.lattice.a, abs=1e-4)


@pytest.mark.parametrize("url,status", [
    ("/api/campaigns/nope/phase-diagram", 404), ("/campaigns/nope", 404),
    ("/api/campaigns/mofs/phase-diagram", 404),
    ("/api/campaigns/fe-li-o/structures?sort=co2_uptake", 400),
    ("/campaigns/fe-li-o?sort=strain", 400),
    ("/api/campaigns/mofs/structures?sort=e_above_hull", 400),
    ("/api/campaigns/fe-li-o/structures?page=99", 404), ("/structures/nope", 404),
])
def test_bad_requests(client, url, status):
    c, _ = client
    response = c.get(url)
    assert response.status_code == status
    if url.startswith("/api/"):
        assert response.get_json()["status"] == status and response.get_json()["error"]


def test_mof_campaign_in_the_same_store(client):
    c, db = client
    page = c.get("/campaigns/mofs")
    assert page.status_code == 200 and b"plot-uptake" in page.data
    assert b"phase-diagram-data" not in page.data
    charts = c.get("/api/campaigns/mofs/charts").get_json()
    assert charts["kind"] == "mof" and "uptake_hist" in charts and "ehull_hist" not in charts
    table = c.get("/api/campaigns/mofs/structures").get_json()
    assert table["sort"] == "co2_uptake" and "e_above_hull" not in table["rows"][0]
    home = c.get("/").data.decode()
    assert "/campaigns/fe-li-o" in home and "/campaigns/mofs" in home


def test_phase_diagram_draws_in_chromium(tmp_path):
    """plotly.js draws the embedded figure: the ternary, candidate markers and labels."""
    import threading

    from werkzeug.serving import make_server

    from tests.test_dashboard_browser import _browser_or_skip

    target = str(tmp_path / "store")
    seed_crystal_store(target)
    db = connect(target, create=False)
    httpd = make_server("127.0.0.1", 0, create_app(db), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    driver = None
    try:
        driver = _browser_or_skip(tmp_path / "profile")
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(f"http://127.0.0.1:{httpd.server_port}/campaigns/fe-li-o")
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "charts").get_attribute("data-rendered"))
        assert driver.find_elements(By.CSS_SELECTOR, "#plot-phase-diagram g.ternary")
        labels = {t.text for t in driver.find_elements(By.CSS_SELECTOR,
                                                       "#plot-phase-diagram g.textpoint")}
        assert {"LiFe5O8", "Fe3O4", "Li2O", "LiFeO2"} <= labels
        assert len(driver.find_elements(By.CSS_SELECTOR, "#plot-ehull g.point")) > 1
        errors = [e for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and "favicon" not in e["message"]]
        assert not errors, errors
    finally:
        if driver is not None:
            driver.quit()
        httpd.shutdown()
        db.close()
