"""Rediscovery: does a crystal campaign find a well-known ground-state ternary it was not given?

For each system below a real campaign runs through the CLI (``mofgen run --kind crystal``)
in a fresh store with a time budget. Its reference phases (the hull) are elements and
binaries only (:mod:`mofgen.crystal.references`), which is checked: the run is refused
if a reference has the target's reduced formula. The target counts as **rediscovered**
when a relaxed candidate has the target's reduced formula, the target's space group
(spglib through pymatgen's ``SpacegroupAnalyzer``, ``symprec`` 0.1 Å, a tolerance loose
enough for CHGNet-relaxed cells) and an energy ≤ 0.05 eV/atom above the campaign's
*final* hull: its references plus every candidate it relaxed. (The stored
``simulate.e_above_hull`` is against the references alone, elements and binaries, so
every ternary that forms at all lies below it: a criterion any stable ternary passes. It
is given too.) All energies are CHGNet's, so the hull is CHGNet's, not DFT's or nature's.

Per system the table gives the target structure's E_hull (eV/atom, final hull, and against
the references), its rank among the candidates that passed
the screen by predicted formation energy (1 = screened best; the policy relaxes in that
order as candidates come out of the screen, so the rank approximates how many relaxations
it needed; the count of relaxations finished when it was found is given too), the
candidates generated / screened / passing the screen / relaxed, the time from campaign
start (the campaign document's ``created_at``; it includes building the hull, given
separately) to the end of the target's relaxation (its ``simulate.finished``), the wall
time of the whole run, and the best E_hull of the target's composition in any structure.

Systems were chosen for a ground state that is textbook knowledge at room temperature,
for diverse structure types, and for being reachable by the template library. Where the
library's exemplar of the structure type *is* the target (``exemplar is target``), finding
it checks the screen, the relaxation and the hull, not discovery; elsewhere it is a real
element substitution into another compound's structure type. Li-Fe-O is avoided: its
curated references contain ternaries.

    nice -n 19 python benchmarks/bench_rediscovery.py [--systems Sr-Ti-O,K-Mg-F]
        [--minutes 5] [--generator template] [--keep DIR] [--analyse DIR]

``--keep DIR`` keeps each system's store in ``DIR/<system>``; ``--analyse DIR`` only
re-reads such stores (no campaign is run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pymatgen.core import Composition, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

REPO = Path(__file__).resolve().parents[1]
HIT_THRESHOLD_EV = 0.05  # eV/atom above the hull (the issue's criterion)
SYMPREC = 0.1  # Å: space group of a CHGNet-relaxed cell
CAMPAIGN = "rediscovery"


@dataclass(frozen=True)
class Target:
    """A ternary whose room-temperature ground state is well known, and why it is here."""

    system: str
    formula: str  # reduced formula
    spacegroup: int  # International Tables number
    symbol: str  # Hermann-Mauguin symbol
    structure_type: str
    template: str  # the library template (mofgen.crystal.library) that can produce it
    exemplar_is_target: bool  # the template's exemplar is the target compound itself
    source: str  # the structure's literature reference
    why: str


TARGETS: tuple[Target, ...] = (
    Target("Sr-Ti-O", "SrTiO3", 221, "Pm-3m", "cubic perovskite (E2_1)", "perovskite", True,
           "Lytle, J. Appl. Phys. 35, 2212 (1964): cubic Pm-3m above 105 K, a = 3.905 Å",
           "the archetypal cubic perovskite; the template is SrTiO3 itself, so this is the "
           "control: screen, relaxation and hull must keep it on the hull"),
    Target("K-Mg-F", "KMgF3", 221, "Pm-3m", "cubic perovskite (E2_1)", "perovskite", False,
           "Mitchell, Cranswick & Swainson, Phys. Chem. Minerals 33, 587 (2006): cubic "
           "from 293 K (a = 3.9924 Å) down to 3.6 K, no tilt transition",
           "a fluoride on an oxide template: substitution across anion chemistry, and "
           "undistorted (no tilts that a cubic template could not produce)"),
    Target("Zn-Al-O", "ZnAl2O4", 227, "Fd-3m", "normal spinel (H1_1)", "spinel", False,
           "gahnite; O'Neill & Dollase, Phys. Chem. Minerals 20, 541 (1994)",
           "spinel from the MgAl2O4 template with Zn on the tetrahedral site (normal, as "
           "observed); 14-site primitive cell, the largest target here"),
    Target("Mg-Ti-O", "MgTiO3", 148, "R-3", "ilmenite", "AB3C_hR10_148_c_f_c:TiFeO3", False,
           "geikielite; Wechsler & Von Dreele, Acta Cryst. B45, 542 (1989)",
           "ilmenite from the FeTiO3 (AFLOW) template; competes with corundum-derived "
           "LiNbO3-type and perovskite candidates of the same composition"),
    Target("Hf-Si-O", "HfSiO4", 141, "I4_1/amd", "zircon", "A4BC_tI24_141_h_b_a:ZrSiO4",
           False, "hafnon; Speer & Cooper, Am. Mineral. 67, 804 (1982)",
           "an orthosilicate (isolated SiO4) from the ZrSiO4 (AFLOW) template; Hf for Zr "
           "is the closest chemical analogue, so a fair but real substitution"),
    Target("Cu-Ga-S", "CuGaS2", 122, "I-42d", "chalcopyrite (E1_1)",
           "ABC2_tI16_122_a_b_d:FeCuS2", False,
           "Abrahams & Bernstein, J. Chem. Phys. 59, 1625 (1973)",
           "a sulfide semiconductor from the CuFeS2 (AFLOW) template: non-oxide chemistry, "
           "tetrahedral coordination, and a Cu-Ga ordering the zinc-blende binaries lack"),
    Target("Li-Co-O", "LiCoO2", 166, "R-3m", "layered alpha-NaFeO2", "layered", True,
           "Akimoto et al., J. Solid State Chem. 141, 298 (1998)",
           "the layered cathode; the template is LiCoO2 itself (control), competing with the "
           "ordered rock-salt (gamma-LiFeO2) and spinel-derived candidates of LiCoO2"),
)


@dataclass
class Result:
    """What one campaign found; energies in eV/atom, times in s."""

    target: Target
    found: bool = False
    e_hull: float | None = None  # of the target structure (formula + SG), final hull
    e_hull_references: float | None = None  # the same, against the references only
    rank: int | None = None  # of that candidate among those passing the screen
    relaxations_needed: int | None = None  # relaxations finished when it was found
    time_to_find_s: float | None = None
    generated: int = 0
    screened: int = 0  # got a predicted formation energy
    passed: int = 0  # passed the screen: the relaxation queue
    relaxed: int = 0
    composition_e_hull: float | None = None  # best final E_hull of the formula, any SG
    composition_spacegroup: int | None = None
    hull_build_s: float | None = None
    wall_s: float | None = None
    note: str = ""


# ---------------------------------------------------------------------------- analysis
def reference_formulas(campaign: dict[str, Any]) -> set[str]:
    """Reduced formulas of the campaign's reference phases (its hull)."""
    entries = (campaign.get("references") or {}).get("entries") or []
    return {Composition(e["composition"]).reduced_formula for e in entries}


def check_references_exclude(campaign: dict[str, Any], formula: str) -> None:
    """The rediscovery condition: the hull must not already contain the target."""
    formulas = reference_formulas(campaign)
    if not formulas:
        raise ValueError(f"campaign {campaign.get('_id')!r} has no reference phases")
    if Composition(formula).reduced_formula in formulas:
        raise ValueError(f"the references of campaign {campaign.get('_id')!r} contain "
                         f"{formula}: this would not be a rediscovery")


def spacegroup_number(structure: Structure | dict[str, Any]) -> int:
    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    return SpacegroupAnalyzer(structure, symprec=SYMPREC).get_space_group_number()


def _get(doc: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _formula(doc: dict[str, Any]) -> str:
    """Reduced formula (a relaxation keeps the composition)."""
    return Composition(doc["identifiers"]["formula"]).reduced_formula


def screen_ranks(docs: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Rank (1 = lowest predicted formation energy) of each candidate that passed the
    screen; ties keep the order of ids, as a sort in the store would."""
    passed = [d for d in docs if _get(d, "validate.formation_energy_per_atom") is not None
              and not d.get("rejection")]
    passed.sort(key=lambda d: (_get(d, "validate.formation_energy_per_atom"), d["_id"]))
    return {d["_id"]: i for i, d in enumerate(passed, 1)}


def final_hull_distances(campaign: dict[str, Any], relaxed: list[dict[str, Any]]
                         ) -> dict[str, float]:
    """Energy (eV/atom, ≥ 0) of each relaxed candidate above the campaign's *final* hull:
    its reference phases plus every candidate it relaxed.

    The stored ``simulate.e_above_hull`` is measured against the references alone
    (elements and binaries), so any ternary that forms lies below it; whether the target
    is the campaign's ground state needs the other ternaries it found too.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    from mofgen.crystal.energy import References

    references = References.from_dict(campaign["references"])
    entries = {}
    for d in relaxed:
        comp = Composition(d["identifiers"]["formula"])
        entries[d["_id"]] = PDEntry(comp, d["simulate"]["energy_per_atom"] * comp.num_atoms,
                                    name=d["_id"])
    diagram = PhaseDiagram([*references.entries, *entries.values()])
    return {key: float(diagram.get_e_above_hull(entry)) for key, entry in entries.items()}


def analyse(target: Target, campaign: dict[str, Any], docs: list[dict[str, Any]],
            threshold: float = HIT_THRESHOLD_EV) -> Result:
    """Find the target among a campaign's crystals (see the module docstring)."""
    check_references_exclude(campaign, target.formula)
    ranks = screen_ranks(docs)
    result = Result(target, generated=len(docs), passed=len(ranks),
                    screened=sum(_get(d, "validate.formation_energy_per_atom") is not None
                                 for d in docs),
                    hull_build_s=_get(campaign, "references.meta.build_seconds"))
    relaxed = [d for d in docs if _get(d, "simulate.e_above_hull") is not None]
    result.relaxed = len(relaxed)
    final = final_hull_distances(campaign, relaxed) if relaxed else {}
    formula = Composition(target.formula).reduced_formula  # pymatgen's order: Al2ZnO4
    mine = sorted((d for d in relaxed if _formula(d) == formula),
                  key=lambda d: (final[d["_id"]], d["simulate"]["e_above_hull"]))
    if mine:
        result.composition_e_hull = final[mine[0]["_id"]]
        result.composition_spacegroup = spacegroup_number(mine[0]["simulate"]["structure"])
    matches = [d for d in mine
               if spacegroup_number(d["simulate"]["structure"]) == target.spacegroup]
    hits = [d for d in matches if final[d["_id"]] <= threshold]
    if hits:  # the first one relaxed
        best = min(hits, key=lambda d: _time(d["simulate"]["finished"]))
        found_at = _time(best["simulate"]["finished"])
        result.found = True
        result.time_to_find_s = (found_at - _time(campaign["created_at"])).total_seconds()
        result.relaxations_needed = sum(_time(d["simulate"]["finished"]) <= found_at
                                        for d in relaxed)
    elif matches:
        best = matches[0]
    else:
        best = None
        queued = [ranks[d["_id"]] for d in docs if d["_id"] in ranks
                  and _get(d, "simulate.e_above_hull") is None and _formula(d) == formula
                  and spacegroup_number(d["structure"]) == target.spacegroup]
        result.note = (f"target structure screened at rank {min(queued)}, not relaxed in "
                       "the budget" if queued else "target structure not among the "
                       "candidates that passed the screen")
    if best is not None:
        result.rank = ranks.get(best["_id"])
        result.e_hull = final[best["_id"]]
        result.e_hull_references = best["simulate"]["e_above_hull"]
    return result


def analyse_store(target: Target, store: str) -> Result:
    from mofgen.stores.connection import connect

    db = connect(store)
    try:
        campaign = db.campaigns.find_one({"_id": CAMPAIGN})
        if campaign is None:
            raise ValueError(f"no campaign {CAMPAIGN!r} in {store}")
        docs = list(db.structures.find({"campaign": CAMPAIGN}))
        return analyse(target, campaign, docs)
    finally:
        db.close()


# ---------------------------------------------------------------------------- campaigns
def run_campaign(target: Target, store: Path, minutes: float, generator: str) -> float:
    """One campaign through the CLI; returns its wall time (s). Output goes to
    ``store/campaign.log``."""
    store.mkdir(parents=True, exist_ok=True)
    config = store / "config.yaml"
    config.write_text(yaml.safe_dump({"kind": "crystal", "crystal": {
        "system": target.system, "generator": generator}}))
    started = time.monotonic()
    with open(store / "campaign.log", "w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "mofgen.cli", "run", "--db", str(store / "db"),
             "--campaign", CAMPAIGN, "--config", str(config), "--minutes", f"{minutes:g}"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{target.system}: mofgen run exited {done.returncode} "
                           f"(see {store / 'campaign.log'})")
    return wall


# ---------------------------------------------------------------------------- output
def _num(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def systems_table(targets: Iterable[Target]) -> str:
    rows = ["| system | target | space group | structure type | template | exemplar is "
            "target | source | why |", "|---|---|---|---|---|---|---|---|"]
    for t in targets:
        rows.append(f"| {t.system} | {t.formula} | {t.symbol} ({t.spacegroup}) | "
                    f"{t.structure_type} | {t.template} | "
                    f"{'yes (control)' if t.exemplar_is_target else 'no (substitution)'} | "
                    f"{t.source} | {t.why} |")
    return "\n".join(rows)


def results_table(results: Iterable[Result]) -> str:
    rows = ["| system | target (SG) | exemplar is target | found | E_hull final (eV/atom) | "
            "E_hull vs references (eV/atom) | rank | "
            "relaxations needed | time to find (s) | generated / screened / passed / "
            "relaxed | composition found (any structure): best E_hull (eV/atom) [SG] | "
            "hull build (s) | wall (s) | note |", "|---" * 14 + "|"]
    for r in results:
        t = r.target
        composition = ("—" if r.composition_e_hull is None else
                       f"{r.composition_e_hull:.3f} [{r.composition_spacegroup}]")
        rows.append(
            f"| {t.system} | {t.formula} ({t.spacegroup}) | "
            f"{'yes' if t.exemplar_is_target else 'no'} | {'yes' if r.found else 'no'} | "
            f"{_num(r.e_hull)} | {_num(r.e_hull_references)} | {r.rank or '—'} | "
            f"{r.relaxations_needed or '—'} | "
            f"{_num(r.time_to_find_s, '.0f')} | "
            f"{r.generated} / {r.screened} / {r.passed} / {r.relaxed} | {composition} | "
            f"{_num(r.hull_build_s, '.0f')} | {_num(r.wall_s, '.0f')} | {r.note} |")
    return "\n".join(rows)


def _targets(names: str | None) -> list[Target]:
    known = {t.system: t for t in TARGETS}
    if not names:
        return list(TARGETS)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown system(s) {', '.join(unknown)} "
                         f"(known: {', '.join(known)})")
    return [known[n] for n in wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", help="comma-separated (default: all "
                        f"{len(TARGETS)}: {','.join(t.system for t in TARGETS)})")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="time budget of each campaign after its hull is built "
                        "(default 5)")
    parser.add_argument("--generator", default="template",
                        help="crystal generator (default template)")
    parser.add_argument("--keep", help="keep each system's store in KEEP/<system>")
    parser.add_argument("--analyse", metavar="DIR",
                        help="only analyse stores kept earlier with --keep DIR")
    args = parser.parse_args()
    if args.minutes <= 0:
        raise SystemExit("error: --minutes must be positive")
    targets = _targets(args.systems)
    print(systems_table(targets), "\n", flush=True)

    if args.keep:  # before any campaign: a half-used directory is refused up front
        taken = [t.system for t in targets if (Path(args.keep) / t.system).exists()]
        if taken:
            raise SystemExit(f"error: {args.keep} already holds {', '.join(taken)}; "
                             "choose an empty --keep directory")
    if args.analyse and not Path(args.analyse).is_dir():
        raise SystemExit(f"error: no directory {args.analyse}")

    results, failed = [], []
    for target in targets:
        try:
            result = _one(target, args)
        except (RuntimeError, ValueError) as exc:  # a failed run or refs with the target
            failed.append(target.system)
            result = Result(target, note=f"FAILED: {exc}")
        results.append(result)
        print(f"{target.system}: found={result.found} e_hull={_num(result.e_hull)} eV/atom "
              f"rank={result.rank} relaxed={result.relaxed} {result.note}", flush=True)

    print()
    print(f"generator={args.generator}, budget {args.minutes:g} min per campaign after the "
          f"hull; found = {SYMPREC} Å-symprec space group and E_hull ≤ {HIT_THRESHOLD_EV} "
          "eV/atom\n")
    print(results_table(results))
    print(f"\nrediscovered={sum(r.found for r in results)}/{len(results)}")
    if failed:
        raise SystemExit(f"error: no valid result for {', '.join(failed)}")


def _one(target: Target, args: argparse.Namespace) -> Result:
    """Run (or, with ``--analyse``, only read) one system's campaign."""
    if args.analyse:
        store = Path(args.analyse) / target.system / "db"
        if not store.exists():
            raise ValueError(f"no store {store}")
        return analyse_store(target, str(store))
    root = Path(args.keep) / target.system if args.keep else Path(
        tempfile.mkdtemp(prefix=f"rediscovery-{target.system}-"))
    try:
        wall = run_campaign(target, root, args.minutes, args.generator)
        result = analyse_store(target, str(root / "db"))
        result.wall_s = wall
        return result
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
