"""Simulate stage, pores: Zeo++ (through pyzeo) geometry and the porosity screen.

Reports the largest cavity (LCD) and pore-limiting (PLD) diameters, the probe-accessible
surface area, the accessible pore volume and void fraction, and whether a CO2-sized
probe (radius 1.65 Å, kinetic diameter 3.3 Å) percolates through the framework. A
framework with no channel for the probe cannot adsorb in GCMC and is rejected before it.
pyzeo is C++ that prints to stdout and can crash the interpreter, so it runs in a child.

The pore volume is Zeo++'s accessible volume (AV, ``network -vol``): the volume the probe
*centre* reaches through channels (Ongari et al., Langmuir 2017, 33, 14529). pyzeo does not
expose ``-volpo`` (the probe-occupiable volume, POAV, which is larger by the probe's reach
into the walls), so that is not reported.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Structure

from mofgen.engines._tools import (
    EngineError,
    check_atoms,
    package_version,
    run_json_tool,
    workdir_for,
    write_p1_cif,
)
from mofgen.engines.results import PoreResult, Status

TOOL = "zeo++"


@dataclass
class PoreAnalysis:
    """Settings of one Zeo++ analysis."""

    probe_radius_A: float = 1.65  # CO2
    surface_samples_per_atom: int = 2000
    volume_samples: int = 50_000
    min_pld_A: float | None = None  # default: the probe diameter
    timeout_s: float = 600.0
    max_atoms: int | None = 20_000  # atoms of the cell

    def run(self, structure: Structure, workdir: Path | str | None = None) -> PoreResult:
        return run_pores(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        check_atoms(TOOL, len(structure), self.max_atoms)


def run_pores(
    structure: Structure, calc: PoreAnalysis | None = None, workdir: Path | str | None = None
) -> PoreResult:
    """Zeo++ descriptors of ``structure``; rejected when the probe cannot get in."""
    calc = calc or PoreAnalysis()
    calc.check_size(structure)
    wd = workdir_for(workdir, "zeo")
    t0 = time.perf_counter()
    result = PoreResult(workdir=str(wd), probe_radius_A=calc.probe_radius_A,
                        software_version=f"pyzeo {package_version('pyzeo')}")
    write_p1_cif(structure, wd / "structure.cif")
    cmd = [sys.executable, "-m", "mofgen.engines.zeopp", "structure.cif",
           str(calc.probe_radius_A), str(calc.surface_samples_per_atom),
           str(calc.volume_samples)]
    try:
        data = run_json_tool(TOOL, cmd, wd, calc.timeout_s, "zeo.log", "zeo.json")
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
    else:
        result = result.model_copy(update=data)
        min_pld = calc.min_pld_A if calc.min_pld_A is not None else 2 * calc.probe_radius_A
        if not result.accessible or (result.pld_A or 0.0) < min_pld:
            result.status = Status.rejected
            result.reason = (f"non-porous to a {calc.probe_radius_A} Å probe: PLD "
                             f"{result.pld_A:.2f} Å < {min_pld:.2f} Å, accessible void fraction "
                             f"{result.void_fraction:.3f}")
    result.wall_time_s = time.perf_counter() - t0
    return result


def _field(text: str, name: str) -> float:
    match = re.search(rf"{re.escape(name)}:?\s+([-\d.eE+]+)", text)
    if not match:
        raise ValueError(f"'{name}' missing in Zeo++ output: {text!r}")
    return float(match.group(1))


def _child_main(cif: str, probe: float, sa_samples: int, vol_samples: int) -> int:
    """Child process: run pyzeo and write zeo.json."""
    import pyzeo.area_volume as av
    from pyzeo.netstorage import AtomNetwork

    net = AtomNetwork.read_from_CIF(cif)
    net.calculate_free_sphere_parameters("zeo.res")
    lcd, pld, lcd_path = (float(v) for v in Path("zeo.res").read_text().split()[1:4])
    sa = av.surface_area(net, probe, probe, sa_samples, high_accuracy=True)[0].decode()
    vol = av.volume(net, probe, probe, vol_samples, high_accuracy=True)[0].decode()
    channels = int(_field(sa, "Number_of_channels"))
    data = {
        "lcd_A": lcd,
        "pld_A": pld,
        "lcd_free_path_A": lcd_path,
        "asa_A2": _field(sa, "ASA_A^2"),
        "asa_m2_per_g": _field(sa, "ASA_m^2/g"),
        "void_fraction": _field(vol, "AV_Volume_fraction"),
        "pore_volume_A3": _field(vol, "AV_A^3"),
        "pore_volume_cm3_per_g": _field(vol, "AV_cm^3/g"),
        "density_g_per_cm3": _field(sa, "Density"),
        "accessible": channels > 0,
    }
    Path("zeo.json").write_text(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
