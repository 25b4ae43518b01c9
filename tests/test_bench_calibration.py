"""benchmarks/bench_calibration.py without GCMC: its frameworks exist in the installed RASPA2,
the CIF charges are read, every published number has a source, bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.benchmarks import bench_module

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_calibration.py"


@pytest.fixture(scope="module")
def bench():
    with bench_module("bench_calibration") as module:
        yield module


def test_frameworks_resolve_to_cifs_of_the_installed_raspa2(bench):
    assert {"IRMOF-1", "Cu-BTC"} <= set(bench.FRAMEWORKS) and len(bench.FRAMEWORKS) >= 6
    assert bench.OPEN_METAL_SITES <= set(bench.FRAMEWORKS)
    for name in bench.FRAMEWORKS:
        path = bench.framework_cif(name)
        assert path.is_file(), path
        structure, charges = bench.read_framework(name)
        assert len(structure) > 0
        if charges is not None:  # literature charges: one per site, a neutral cell
            assert len(charges) == len(structure)
            assert abs(sum(charges)) < 1e-2, (name, sum(charges))


def test_cif_charges_are_read_only_where_the_library_has_them(bench):
    structure, charges = bench.read_framework("Cu-BTC")
    assert charges is not None
    by_element = {site.specie.symbol: q for site, q in zip(structure, charges, strict=True)}
    assert by_element["Cu"] > 0 > by_element["O"]
    assert bench.read_framework("IRMOF-1")[1] is None  # a column of zeros is no charges


def test_every_reference_value_is_a_measured_isotherm_with_a_source(bench):
    import json

    data = json.loads(bench.PUBLISHED.read_text())["isotherms"]
    assert len(bench.REFERENCES) == len(data) >= 6
    for ref, isotherm in zip(bench.REFERENCES, data, strict=True):
        assert ref.framework in bench.FRAMEWORKS
        assert ref.source.startswith("doi:10.") and "ISODB Library/" in ref.where, ref
        assert 290 <= ref.temperature_K <= 305 and ref.pressure_bar == bench.PRESSURE_BAR
        # interpolated here from the measured points that bracket 0.1 bar
        assert isotherm["p_low"] <= bench.PRESSURE_BAR <= isotherm["p_high"]
        low, high = sorted((isotherm["q_low"], isotherm["q_high"]))
        factor = bench.TO_MOL_PER_KG[isotherm["adsorption_units"]]
        assert low * factor <= ref.value_mol_per_kg <= high * factor
        assert ref.value_mol_per_kg == pytest.approx(isotherm["uptake_mol_per_kg"], abs=1e-3)
    with_values = {ref.framework for ref in bench.REFERENCES}
    assert len(with_values) >= 6 and {"IRMOF-1", "Cu-BTC"} <= with_values
    covered = {f for limit in bench.KNOWN_LIMITATIONS for f in limit.frameworks}
    assert bench.OPEN_METAL_SITES <= covered  # the known failures are stated, with sources
    assert all(limit.source.strip() and limit.finding.strip()
               for limit in bench.KNOWN_LIMITATIONS)


def test_interpolation_refuses_a_pressure_the_points_do_not_bracket(bench):
    isotherm = {"p_low": 0.2, "q_low": 1.0, "p_high": 0.4, "q_high": 2.0,
                "adsorption_units": "mmol/g", "isodb_path": "x.json"}
    assert bench.interpolated(isotherm, 0.3) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="not bracketed"):
        bench.interpolated(isotherm, 0.1)
    assert bench.interpolated({**isotherm, "adsorption_units": "wt%"}, 0.2) == \
        pytest.approx(10 / 44.01)


def test_charge_method_defaults_to_the_campaigns(bench):
    from mofgen.engines.charge_methods import DEFAULT_METHOD

    assert bench.default_charge_method() == DEFAULT_METHOD
    assert set(bench.charge_methods()) >= {"eqeq", "qeq"}
    assert callable(bench.charge_calculation("eqeq").run)


def test_table_cites_every_source_it_uses(bench):
    rows = [
        {"framework": "Ni-DOBDC", "charges": "qeq", "temperature_K": 298.0, "cycles": 10,
         "init_cycles": 5, "status": "ok", "uptake_mol_per_kg": 0.6,
         "block_error_mol_per_kg": 0.1},
        {"framework": "Ni-DOBDC", "charges": bench.CIF_CHARGES, "temperature_K": 298.0,
         "cycles": 10, "init_cycles": 5, "status": "ok", "uptake_mol_per_kg": 0.3,
         "block_error_mol_per_kg": 0.05},
    ]
    table = bench.format_table(rows)
    assert "| 2.00 |" in table  # QEq over CIF-charge uptake
    assert "3.24 (2.38–3.32, n=4) at 298/303 K" in table  # Ni-DOBDC within 5 K of 298 K
    assert "ISODB Library/10.1021la102359q" in table
    for group in {part.split("]")[0] for part in table.split("[")[1:]}:
        for marker in group.split(","):
            assert f"\n[{marker}] " in table, f"citation [{marker}] has no source line"
    assert "known limitation (Ni-DOBDC)" in table


@pytest.mark.parametrize("args", [["--frameworks", "NoSuchMOF"], ["--charges", "magic"],
                                  ["--cycles", "0"], ["--table-only"]])
def test_bad_input_is_one_error_line(args):
    proc = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:")
