"""A realistic campaign database without running the simulations.

Tests and the dashboard benchmark (``benchmarks/bench_dashboard.py``) need a store filled
the way a campaign fills it (every state, stage numbers, relaxed structures with charges,
history, models, decisions, queued Fireworks) — in seconds and at 100 000 structures.
Documents are built from real structures the caller passes (e.g. from
:func:`mofgen.chemistry.assemble_mof`) and checked against
:class:`~mofgen.documents.StructureDoc` before insertion.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from mofgen.documents import CampaignConfig, CampaignDoc, StructureDoc, utcnow

LADDER = ("generated", "validated", "simulated", "adsorbed", "retrained")
VERSIONS = {"python": "3.11", "mofgen": "0.1.0", "lammps": "2024.8", "RASPA2": "2.0.4"}


def _history(start: dt.datetime, path: list[str], rng: random.Random) -> list[dict]:
    entries, time, source = [], start, "none"
    for target in path:
        duration = rng.uniform(5, 600) if source != "none" else None
        time = time + dt.timedelta(seconds=duration or 0)
        entry = {"from": source, "to": target, "time": time, "worker": "seed:1",
                 "versions": VERSIONS}
        if duration is not None:
            entry["duration_s"] = round(duration, 2)
        entries.append(entry)
        source = target
    return entries


def structure_doc(
    index: int, campaign: str, structure, smiles: str, rng: random.Random,
    start: dt.datetime, hours: float,
) -> dict[str, Any]:
    """One document in a random state with the numbers each reached stage writes."""
    created = start + dt.timedelta(seconds=rng.uniform(0, hours * 3600))
    roll = rng.random()
    reach = 1 if roll < 0.25 else 2 if roll < 0.45 else 3 if roll < 0.6 else 4 if roll < 0.95 else 5
    path = list(LADDER[:reach])
    strain = abs(rng.gauss(0.08, 0.08)) if reach >= 2 else None
    if reach >= 2 and rng.random() < 0.12:  # screened out after validation
        path = path[:2] + ["rejected"]
    doc_id = f"mof-{campaign}-{index:07d}"
    base = StructureDoc.from_structure(structure, campaign, doc_id=doc_id).to_mongo()
    base["linkers"] = [{"smiles": smiles, "anchor": "COO", "model_version": "gen-v0",
                        "linker_id": f"lk-{index % 97}"}]
    base["identifiers"]["linker_smiles"] = [smiles]
    history = _history(created, path, rng)
    times = {h["to"]: h["time"] for h in history}
    base.update(state=path[-1], history=history, created_at=created,
                updated_at=history[-1]["time"])
    if strain is not None:
        # one replica: no spread measured, the bound is the point value
        base["validate"] = {"strain": round(strain, 5), "steps": 2000, "temperature_K": 300.0,
                            "replicas": 1, "strain_replicas": [round(strain, 5)],
                            "strain_std": None, "strain_sem": None,
                            "strain_upper": round(strain, 5), "confidence_z": 1.645,
                            "finished": times["validated"]}
    if path[-1] == "rejected":
        base["rejection"] = {"stage": "simulate", "reason": "pore too small", "value": 2.9,
                             "threshold": 3.3}
    if "simulated" in times:
        relaxed = structure.copy()
        charges = [round(rng.uniform(-0.8, 1.2), 4) for _ in relaxed]
        mean = sum(charges) / len(charges)
        relaxed.add_site_property("charge", [round(c - mean, 4) for c in charges])
        base["simulate"] = {
            "relax": {"tool": "chgnet", "energy_per_atom_eV": round(rng.uniform(-7, -5), 4)},
            "charges": {"tool": "qeq", "method": "qeq"},
            "pores": {"lcd_A": round(rng.uniform(3.4, 9), 3)},
            "structure": relaxed.as_dict(), "finished": times["simulated"],
        }
    if "adsorbed" in times:
        uptake = max(0.0, rng.gauss(1.2, 0.8))
        base["adsorb"] = {"co2_uptake": round(uptake, 4), "co2_uptake_error": 0.05,
                          "co2_uptake_lower": round(uptake - 1.645 * 0.05, 4), "replicas": 1,
                          "heat_of_adsorption_kJ_per_mol": round(rng.uniform(-35, -15), 2),
                          "finished": times["adsorbed"]}
    if "retrained" in times:
        base["retrain"] = {"model_version": "gen-v1", "finished": times["retrained"]}
    return base


def seed_campaign(
    db, campaign: str, n: int, structures: list, smiles: list[str] | None = None,
    hours: float = 6.0, seed: int = 0, batch: int = 1000, validate: bool = True,
) -> list[str]:
    """Insert a campaign of ``n`` structures (cycling over ``structures``); returns the ids."""
    rng = random.Random(seed)
    start = utcnow().replace(microsecond=0) - dt.timedelta(hours=hours)
    smiles = smiles or ["OC(=O)c1ccc(cc1)C(=O)O"]
    campaign_doc = CampaignDoc(id=campaign, config=CampaignConfig(), status="running",
                               created_at=start, counters={"generated": n})
    db.campaigns.replace_one({"_id": campaign}, campaign_doc.to_mongo(), upsert=True)
    ids, pending = [], []
    for i in range(n):
        k = i % len(structures)
        doc = structure_doc(i, campaign, structures[k], smiles[k % len(smiles)], rng, start, hours)
        if validate and i < 50:
            StructureDoc.from_mongo(doc)
        pending.append(doc)
        ids.append(doc["_id"])
        if len(pending) >= batch:
            db.structures.insert_many(pending)
            pending = []
    if pending:
        db.structures.insert_many(pending)
    for v, parent in (("gen-v0", None), ("gen-v1", "gen-v0")):
        db.models.replace_one({"_id": v}, {
            "_id": v, "kind": "generator", "parent": parent, "campaign": campaign,
            "training_set_ids": ids[:3] if parent else [],
            "metrics": {"loss": 0.42 if parent else 0.61, "validity": 0.9},
            "created_at": start + dt.timedelta(hours=hours / 2 if parent else 0)}, upsert=True)
    db.collection("decisions").insert_many([
        {"campaign": campaign, "time": start + dt.timedelta(minutes=10 * j),
         "stage": ("generate", "validate", "adsorb", "retrain")[j % 4],
         "reason": f"queue below target ({j % 3} < 2)", "evidence": {"ready": j % 3}}
        for j in range(12)
    ])
    db.collection("fireworks").insert_many([
        {"fw_id": 10_000 + j, "state": ("READY", "RUNNING")[j % 2],
         "spec": {"_category": ("gpu", "cpu", "cpu", "mpi")[j % 4]}, "name": f"seed-{j}"}
        for j in range(7)
    ])
    return ids


__all__ = ["seed_campaign", "structure_doc"]
