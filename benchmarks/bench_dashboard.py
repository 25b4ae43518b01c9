"""Dashboard response times on a large seeded store.

    python benchmarks/bench_dashboard.py --db DIR [--n 100000] [--repeat 3]

Seeds N structures (default 100 000) into a new embedded store (or reuses ``--db`` if it
already holds the campaign), then times the campaign page, one table page per sort column,
a deep table page, the charts API and a structure page through the WSGI app (no network),
and prints a table. The baseline is the campaign list page on the same store in the same
run, so the ratios say how much the bigger pages cost relative to the cheapest one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers.seed


def main(argv: list[str] | None = None) -> int:
    from mofgen.chemistry import assemble_mof
    from mofgen.dashboard import queries as q
    from mofgen.dashboard.app import create_app
    from mofgen.stores.connection import connect
    from tests.helpers.seed import seed_campaign

    parser = argparse.ArgumentParser(prog="benchmarks/bench_dashboard.py")
    parser.add_argument("--db", required=True, help="directory for the (new or seeded) store")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    db = connect(args.db)
    if db.structures.count_documents({"campaign": "bench"}) < args.n:
        linkers = ["OC(=O)c1ccc(cc1)C(=O)O", "OC(=O)c1ccc(C(=O)O)cc1C"]
        structures = [assemble_mof([s], pillar="C1CN2CCN1CC2").structure for s in linkers]
        start = time.perf_counter()
        seed_campaign(db, "bench", args.n, structures, smiles=linkers, hours=48)
        print(f"seeded {args.n} structures in {time.perf_counter() - start:.0f} s")
    client = create_app(db).test_client()
    some_id = q.top_structures(q.ReadOnlyDB(db), "bench", per_page=1)["rows"][0]["id"]
    token = None  # walk 200 pages by keyset cursor to time a deep page the cheap way
    for _ in range(199):
        page = q.top_structures(q.ReadOnlyDB(db), "bench", sort="created", after=token)
        token = page["next"]
    urls = ["/", "/campaigns/bench", "/api/campaigns/bench/structures?sort=co2_uptake",
            "/api/campaigns/bench/structures?sort=strain&order=asc",
            "/api/campaigns/bench/structures?sort=created&page=200",
            f"/api/campaigns/bench/structures?sort=created&after={token}",
            "/api/campaigns/bench/charts", f"/structures/{some_id}"]
    rows = []
    for url in urls:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        rows.append((url, times[0], statistics.median(times)))
    base = rows[0][2]
    # "first" is cold (charts are cached for 30 s after it); ratios use the median
    print(f"{'url':58s} {'first s':>8s} {'median s':>9s} {'× list page':>12s}")
    for url, first, seconds in rows:
        print(f"{url:58s} {first:8.3f} {seconds:9.3f} {seconds / base:12.1f}")
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
