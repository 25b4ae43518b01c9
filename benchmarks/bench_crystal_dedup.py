"""De-duplication cost per candidate as the store grows: indexed buckets vs. a full scan.

A fresh embedded store is filled with distinct crystals through the real path
(:func:`mofgen.crystal.campaign.insert_crystal`): the shipped prototypes with their
elements replaced by others of the same charge sign, one crystal per (prototype,
elements) pair. At each store size (``--sizes``, default 100 and 2000) the same probe set
is inserted into a probe campaign and then removed: half are new crystals, half rotated
and translated copies of crystals stored in the first 100. Arms, timed in the same run:

* ``bucket`` — ``insert_crystal``: pre-key (spglib), indexed lookup of the bucket,
  ``StructureMatcher`` inside it only;
* ``scan`` — what de-duplication without the index costs: read every stored structure
  and match the probe against each one with the same formula (``find_duplicate``).

Prints ms per candidate and the ratio to the smallest store; flat means the cost follows
the bucket, not the store.

    nice -n 19 python benchmarks/bench_crystal_dedup.py [--sizes 100,2000] [--probes 40]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time

from pymatgen.core import Element, Structure
from pymatgen.core.operations import SymmOp

from mofgen.crystal.campaign import insert_crystal
from mofgen.crystal.dedup import find_duplicate, prekey
from mofgen.crystal.prototypes import prototypes
from mofgen.stores.connection import connect

CATIONS = ["Li", "Na", "K", "Rb", "Cs", "Be", "Mg", "Ca", "Sr", "Ba", "Sc", "Y", "La", "Ti",
           "Zr", "V", "Nb", "Cr", "Mo", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Cd", "Al", "Ga",
           "In", "Sn", "Pb", "Bi"]
ANIONS = ["O", "S", "Se", "Te", "F", "Cl", "Br", "I", "N", "P"]


def crystals(limit: int):
    """Distinct crystals: each prototype with every assignment of other elements."""
    protos = [p.structure.copy() for p in prototypes()]
    for s in protos:
        s.remove_oxidation_states()
    pools = []
    for s in protos:
        elements = sorted({sp.symbol for sp in s.species})
        negative = {el for el in elements if Element(el).X >= 2.5}  # anion-like sites
        choices = [ANIONS if el in negative else CATIONS for el in elements]
        pools.append((s, elements, (c for c in itertools.product(*choices)
                                    if len(set(c)) == len(c))))
    made = 0
    while made < limit:
        progressed = False
        for s, elements, combos in pools:  # round robin: every prototype grows alike
            combo = next(combos, None)
            if combo is None:
                continue
            progressed = True
            out = s.copy()
            out.replace_species(dict(zip(elements, combo)))
            yield out
            made += 1
            if made == limit:
                return
        if not progressed:
            raise SystemExit(f"only {made} distinct crystals can be made; lower --sizes")


def moved(s: Structure, seed: int) -> Structure:
    out = s.copy()
    out.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 17.0 + seed))
    out.translate_sites(list(range(len(out))), [0.11, 0.23, 0.37])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,2000", help="stored crystals, ascending")
    parser.add_argument("--probes", type=int, default=40, help="probe candidates per size")
    parser.add_argument("--scan-probes", type=int, default=6,
                        help="probes for the full-scan arm (it is slow on purpose)")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    pool = list(crystals(sizes[-1] + args.probes // 2))
    stored_pool, fresh = pool[:sizes[-1]], pool[sizes[-1]:]
    copies = [moved(stored_pool[i % min(100, sizes[0])], i) for i in range(args.probes // 2)]
    probes = [x for pair in zip(fresh, copies) for x in pair]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = connect(f"{tmp}/store")
        stored = 0
        for size in sizes:
            for s in stored_pool[stored:size]:
                insert_crystal(db, "campaign", s)
            stored = size
            n_docs = db.structures.count_documents({"campaign": "campaign"})
            t0 = time.perf_counter()
            for s in probes:
                insert_crystal(db, "probe", s)
            t_bucket = (time.perf_counter() - t0) / len(probes)
            bucket_sizes = [db.structures.count_documents(
                {"identifiers.crystal_key": prekey(s), "campaign": "campaign"}) for s in probes]
            created = db.structures.count_documents({"campaign": "probe"})
            db.structures.delete_many({"campaign": "probe"})
            t0 = time.perf_counter()
            for s in probes[:args.scan_probes]:
                everything = [Structure.from_dict(d["structure"]) for d in
                              db.structures.find({"kind": "crystal"}, {"structure": 1})]
                find_duplicate(s, everything)
            t_scan = (time.perf_counter() - t0) / args.scan_probes
            rows.append((size, n_docs, t_bucket, t_scan, created,
                         sum(bucket_sizes) / len(bucket_sizes)))
        db.close()

    print(f"de-duplication per candidate, {len(probes)} probes ({len(fresh)} new, "
          f"{len(copies)} moved copies of stored crystals); scan arm on {args.scan_probes}")
    print(f"{'stored':>7} {'docs':>6} {'bucket ms':>10} {'ratio':>6} {'scan ms':>9} "
          f"{'ratio':>6} {'new stored':>10} {'mean bucket':>11}")
    base_bucket, base_scan = rows[0][2], rows[0][3]
    for size, n_docs, t_bucket, t_scan, created, mean_bucket in rows:
        print(f"{size:>7} {n_docs:>6} {1000 * t_bucket:>10.1f} {t_bucket / base_bucket:>6.2f} "
              f"{1000 * t_scan:>9.1f} {t_scan / base_scan:>6.2f} {created:>10} "
              f"{mean_bucket:>11.2f}")


if __name__ == "__main__":
    main()
