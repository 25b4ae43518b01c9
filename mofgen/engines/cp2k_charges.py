"""Simulate stage, partial charges (high fidelity): DDAPC from a CP2K PBE density.

MOFA used DDEC6 charges of a CP2K density (Chargemol, not installable here). CP2K itself
offers density-derived atomic point charges for periodic cells: DDAPC (Blöchl, J. Chem.
Phys. 103, 7422 (1995)), fitted in reciprocal space to the electrostatics of the full
density, printed by ``FORCE_EVAL/PROPERTIES/FIT_CHARGE``. Like RESP/ChelpG they are fitted
to the electrostatic potential, which is what GCMC needs from framework charges.

One PBE single point (GPW, DZVP-MOLOPT-SR-GTH, GTH-PBE) on the given cell. Open-shell
metals (Cu²⁺ d⁹, Co²⁺ d⁷, V⁴⁺ d¹, ...) run spin-polarised, high spin, ferromagnetic,
with each metal at its EQeq charge centre as oxidation state: the charges depend little
on the magnetic order, the SCF converges far more often. The binary is Debian's ``cp2k``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Element, Structure

from mofgen.engines._tools import (
    EngineError,
    check_atoms,
    record_charges,
    run_tool,
    workdir_for,
)
from mofgen.engines.cp2k_relax import find_cp2k, scf_section, subsys_section
from mofgen.engines.results import ChargeResult, Status

TOOL = "cp2k"
METHOD = "ddapc/pbe"


@dataclass
class Cp2kCharges:
    """Settings of one CP2K DDAPC calculation (small: charges, not energies)."""

    cutoff_Ry: float = 400.0
    rel_cutoff_Ry: float = 50.0
    max_scf: int = 60
    outer_scf: int = 5
    eps_scf: float = 1e-5
    basis: str = "DZVP-MOLOPT-SR-GTH"
    potential: str = "GTH-PBE"
    spin_polarised: bool | None = None  # None: when an open-shell metal is present
    multiplicity: int | None = None  # None: high spin from the metals' oxidation states
    total_charge_e: int = 0
    timeout_s: float = 6 * 3600.0  # wall-time guard
    max_atoms: int | None = 400  # a DZVP single point of 400 atoms is hours on 2 cores
    max_abs_charge_e: float = 4.0
    executable: str | None = None
    data_dir: str | None = None  # default: $CP2K_DATA_DIR or /usr/share/cp2k

    def run(self, structure: Structure, workdir: Path | str | None = None) -> ChargeResult:
        return run_cp2k_charges(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        check_atoms(TOOL, len(structure), self.max_atoms, "DFT cell")


def unpaired_electrons(structure: Structure) -> int:
    """High-spin unpaired d electrons of the transition metals at their EQeq charge centre."""
    from mofgen.engines.eqeq import ionisation_data

    centres = ionisation_data()["charge_centres"]
    total = 0
    for site in structure:
        el = Element(site.specie.symbol)
        if not el.is_transition_metal or el.symbol not in centres:
            continue
        d = el.group - int(centres[el.symbol])  # d electrons of the ion (groups 3-12)
        if 0 <= d <= 10:
            total += min(d, 10 - d)
    return total


def run_cp2k_charges(
    structure: Structure, calc: Cp2kCharges | None = None, workdir: Path | str | None = None
) -> ChargeResult:
    """DDAPC charges per site of ``structure``; writes ``charged.cif`` in the work directory."""
    m = calc or Cp2kCharges()
    m.check_size(structure)
    wd = workdir_for(workdir, "ddapc")
    t0 = time.perf_counter()
    result = ChargeResult(workdir=str(wd), tool=TOOL, method=METHOD)
    binary = find_cp2k(m.executable)
    if binary is None:
        result.status = Status.failed
        result.reason = ("CP2K not installed (no cp2k.ssmp/psmp/sopt/popt on PATH; "
                         "install Debian's 'cp2k' package); DFT charges skipped")
        return result
    data_dir = m.data_dir or os.environ.get("CP2K_DATA_DIR", "/usr/share/cp2k")
    (wd / "charges.inp").write_text(cp2k_input(structure, m, data_dir))
    try:
        run_tool(TOOL, [binary, "-i", "charges.inp", "-o", "charges.out"], wd, m.timeout_s,
                 "cp2k.stdout", error_markers=("ABORT", "ERROR"))
        text = (wd / "charges.out").read_text(errors="replace")
        charges = parse_ddapc(text, len(structure), m.total_charge_e, wd)
        version = re.search(r"CP2K\|\s+version string:\s+(.+)", text)
        result.software_version = version.group(1).strip() if version else "unknown"
        if "SCF run NOT converged" in text:
            raise EngineError(TOOL, "SCF did not converge; charges of an unconverged "
                                    "density are not used", wd)
    except EngineError as exc:
        out = wd / "charges.out"
        msg = exc.message
        if out.exists() and "ABORT" in msg:  # CP2K writes its abort box into the output
            box = [ln.strip(" *") for ln in out.read_text(errors="replace").splitlines()
                   if ln.startswith(" *") and "ABORT" not in ln and ln.strip(" *\n")]
            msg = " ".join(box[-3:]) or msg
        result.status, result.reason = Status.failed, msg
        result.wall_time_s = time.perf_counter() - t0
        return result
    record_charges(result, structure, charges, wd, m.max_abs_charge_e,
                   "DDAPC charges implausible")
    result.wall_time_s = time.perf_counter() - t0
    return result


def parse_ddapc(text: str, n_atoms: int, total_charge_e: float = 0.0,
                wd: Path | None = None) -> np.ndarray:
    """The last ``DDAP FULL DENSITY charges`` block of a CP2K output, one charge per atom."""
    blocks = text.split("DDAP FULL DENSITY charges:")
    if len(blocks) < 2:
        raise EngineError(TOOL, "no DDAPC charges in the CP2K output", wd)
    rows = re.findall(r"^\s*(\d+)\s+[A-Za-z]+\S*\s+([-+]?\d+\.\d+)\s*$",
                      blocks[-1].split("Total")[0], re.M)
    if len(rows) != n_atoms:
        raise EngineError(TOOL, f"DDAPC block has {len(rows)} charges for {n_atoms} atoms", wd)
    charges = np.array([float(q) for _, q in rows])
    # the fit's neutrality is good to ~1e-5 e; remove the remainder evenly
    return charges - (charges.sum() - total_charge_e) / n_atoms


def cp2k_input(s: Structure, m: Cp2kCharges, data_dir: str) -> str:
    unpaired = unpaired_electrons(s)
    spin = m.spin_polarised if m.spin_polarised is not None else unpaired > 0
    electrons = sum(site.specie.Z for site in s) - m.total_charge_e  # parity only
    multiplicity = m.multiplicity or (unpaired + 1 if spin else 1)
    if (electrons + multiplicity - 1) % 2:  # parity of all-electron count = valence count
        multiplicity += 1
    spin_lines = f"    UKS\n    MULTIPLICITY {multiplicity}\n" if spin else ""
    return f"""&GLOBAL
  PROJECT charges
  RUN_TYPE ENERGY
  PRINT_LEVEL LOW
&END GLOBAL
&FORCE_EVAL
  METHOD QS
  &DFT
    BASIS_SET_FILE_NAME {data_dir}/BASIS_MOLOPT
    POTENTIAL_FILE_NAME {data_dir}/GTH_POTENTIALS
    CHARGE {m.total_charge_e}
{spin_lines}    &MGRID
      CUTOFF {m.cutoff_Ry}
      REL_CUTOFF {m.rel_cutoff_Ry}
    &END MGRID
{scf_section(m.eps_scf, m.max_scf, m.outer_scf)}    &XC
      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
  &PROPERTIES
    &FIT_CHARGE
      TYPE_OF_DENSITY FULL
    &END FIT_CHARGE
  &END PROPERTIES
{subsys_section(s, m.basis, m.potential)}&END FORCE_EVAL
"""
