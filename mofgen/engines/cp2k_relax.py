"""Simulate stage, cell optimisation (high fidelity): CP2K PBE-D3, as MOFA did.

GPW with PBE, DZVP-MOLOPT-SR-GTH basis, GTH-PBE pseudopotentials and Grimme D3, cell
optimisation with a limited number of L-BFGS steps (MOFA section III-B). The binary is
Debian's ``cp2k`` (``apt-get install cp2k``); where it is absent the result is ``failed``
with a message saying so, and the caller can fall back to CHGNet.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from mofgen.engines._tools import EngineError, check_atoms, run_tool, workdir_for
from mofgen.engines.results import RelaxResult, Status

TOOL = "cp2k"
HARTREE_EV = 27.211386
CP2K_BINARIES = ("cp2k.ssmp", "cp2k.psmp", "cp2k.sopt", "cp2k.popt", "cp2k")


@dataclass
class Cp2kRelaxation:
    """Settings of one CP2K cell optimisation."""

    max_steps: int = 10  # MOFA: "a limited number of L-BFGS steps"
    cutoff_Ry: float = 600.0
    rel_cutoff_Ry: float = 60.0
    max_scf: int = 50
    eps_scf: float = 1e-6
    basis: str = "DZVP-MOLOPT-SR-GTH"
    potential: str = "GTH-PBE"
    timeout_s: float = 24 * 3600.0
    executable: str | None = None  # default: first cp2k.* binary on PATH
    data_dir: str | None = None  # default: $CP2K_DATA_DIR or /usr/share/cp2k
    max_atoms: int | None = 1000  # atoms of the cell (PBE-D3, DZVP): beyond that, weeks

    def run(self, structure: Structure, workdir: Path | str | None = None) -> RelaxResult:
        return run_cp2k_relax(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        check_atoms(TOOL, len(structure), self.max_atoms)


def find_cp2k(preferred: str | None = None) -> str | None:
    for name in ((preferred,) if preferred else CP2K_BINARIES):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_cp2k_relax(
    structure: Structure, calc: Cp2kRelaxation | None = None,
    workdir: Path | str | None = None,
) -> RelaxResult:
    m = calc or Cp2kRelaxation()
    m.check_size(structure)
    wd = workdir_for(workdir, "cp2k")
    t0 = time.perf_counter()
    result = RelaxResult(tool=TOOL, fidelity="dft", workdir=str(wd),
                         initial_volume_A3=structure.volume)
    binary = find_cp2k(m.executable)
    if binary is None:
        result.status = Status.failed
        result.reason = ("CP2K not installed (no cp2k.ssmp/psmp/sopt/popt on PATH; "
                         "install Debian's 'cp2k' package); DFT relaxation skipped")
        return result
    data_dir = m.data_dir or os.environ.get("CP2K_DATA_DIR", "/usr/share/cp2k")
    (wd / "mof.inp").write_text(_input(structure, m, data_dir))
    try:
        stdout = run_tool(TOOL, [binary, "-i", "mof.inp", "-o", "mof.out"], wd, m.timeout_s,
                          "cp2k.stdout", error_markers=("ABORT", "ERROR"))
        text = (wd / "mof.out").read_text(errors="replace")
        result = result.model_copy(update=_parse(structure, wd, text))
        result.software_version = _version(text or stdout)
    except EngineError as exc:
        out = wd / "mof.out"
        msg = exc.message
        if out.exists():  # CP2K writes its abort box into the output file
            box = [ln.strip(" *") for ln in out.read_text(errors="replace").splitlines()
                   if ln.startswith(" *") and "ABORT" not in ln and ln.strip(" *\n")]
            msg = " ".join(box[-3:]) or msg
        result.status, result.reason = Status.failed, msg
    except (OSError, ValueError, IndexError) as exc:
        result.status, result.reason = Status.failed, f"unparsable CP2K output: {exc}"
    result.wall_time_s = time.perf_counter() - t0
    return result


def scf_section(eps_scf: float, max_scf: int, outer_scf: int) -> str:
    """The &SCF block every mofgen CP2K run uses: OT with DIIS, restarted by an outer loop."""
    return f"""    &SCF
      SCF_GUESS ATOMIC
      EPS_SCF {eps_scf}
      MAX_SCF {max_scf}
      &OT
        MINIMIZER DIIS
        PRECONDITIONER FULL_SINGLE_INVERSE
      &END OT
      &OUTER_SCF
        MAX_SCF {outer_scf}
        EPS_SCF {eps_scf}
      &END OUTER_SCF
    &END SCF
"""


def subsys_section(s: Structure, basis: str, potential: str) -> str:
    """The &SUBSYS block: cell rows, Cartesian coordinates (Å) and one &KIND per element."""
    cell = "\n".join(f"      {k} {v[0]:.8f} {v[1]:.8f} {v[2]:.8f}"
                     for k, v in zip("ABC", s.lattice.matrix, strict=True))
    coords = "\n".join(f"      {site.specie.symbol} {x:.8f} {y:.8f} {z:.8f}"
                       for site, (x, y, z) in zip(s, s.cart_coords, strict=True))
    kinds = "\n".join(f"    &KIND {el}\n      BASIS_SET {basis}\n      POTENTIAL {potential}\n"
                      f"    &END KIND" for el in sorted({x.specie.symbol for x in s}))
    return f"""  &SUBSYS
    &CELL
{cell}
    &END CELL
    &COORD
{coords}
    &END COORD
{kinds}
  &END SUBSYS
"""


def _input(s: Structure, m: Cp2kRelaxation, data_dir: str) -> str:
    return f"""&GLOBAL
  PROJECT mof
  RUN_TYPE CELL_OPT
  PRINT_LEVEL LOW
&END GLOBAL
&MOTION
  &CELL_OPT
    OPTIMIZER LBFGS
    MAX_ITER {m.max_steps}
  &END CELL_OPT
  &PRINT
    &CELL
      &EACH
        CELL_OPT 1
      &END EACH
    &END CELL
  &END PRINT
&END MOTION
&FORCE_EVAL
  METHOD QS
  STRESS_TENSOR ANALYTICAL
  &DFT
    BASIS_SET_FILE_NAME {data_dir}/BASIS_MOLOPT
    POTENTIAL_FILE_NAME {data_dir}/GTH_POTENTIALS
    &MGRID
      CUTOFF {m.cutoff_Ry}
      REL_CUTOFF {m.rel_cutoff_Ry}
    &END MGRID
{scf_section(m.eps_scf, m.max_scf, outer_scf=5)}    &XC
      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL
      &VDW_POTENTIAL
        POTENTIAL_TYPE PAIR_POTENTIAL
        &PAIR_POTENTIAL
          TYPE DFTD3
          PARAMETER_FILE_NAME {data_dir}/dftd3.dat
          REFERENCE_FUNCTIONAL PBE
        &END PAIR_POTENTIAL
      &END VDW_POTENTIAL
    &END XC
  &END DFT
{subsys_section(s, m.basis, m.potential)}&END FORCE_EVAL
"""


def _version(text: str) -> str:
    match = re.search(r"CP2K\|\s+version string:\s+(.+)", text)
    return match.group(1).strip() if match else "unknown"


def _parse(initial: Structure, wd: Path, text: str) -> dict:
    energies = re.findall(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[(?:a\.u\.|hartree)\]:"
                          r"\s+([-\d.Ee+]+)", text)
    if not energies:
        raise EngineError(TOOL, "no total energy in CP2K output", wd)
    cell_rows = [ln.split() for ln in (wd / "mof-1.cell").read_text().splitlines()
                 if ln.strip() and not ln.startswith("#")]
    vectors = np.array(cell_rows[-1][2:11], dtype=float).reshape(3, 3)
    frames = (wd / "mof-pos-1.xyz").read_text().splitlines()
    n = len(initial)
    last = frames[-n:]
    species = [ln.split()[0] for ln in last]
    xyz = np.array([ln.split()[1:4] for ln in last], dtype=float)
    final = Structure(Lattice(vectors), species, xyz, coords_are_cartesian=True)
    final.to(filename=str(wd / "relaxed.cif"))
    energy = float(energies[-1]) * HARTREE_EV
    return {
        "energy_eV": energy,
        "energy_per_atom_eV": energy / n,
        "n_steps": len(cell_rows),
        "converged": "GEOMETRY OPTIMIZATION COMPLETED" in text,
        "final_structure": final.as_dict(),
        "final_volume_A3": final.volume,
        "volume_change": final.volume / initial.volume - 1.0,
    }
