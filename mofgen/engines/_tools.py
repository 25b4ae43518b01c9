"""Shared plumbing for running external codes: subprocess with a time limit, typed errors.

External codes are run as child processes (never in-process) so that a segfault, an
``exit()`` inside a library or a hang cannot take the worker down with it; the time limit
and the captured stderr become the ``failed`` reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from mofgen.errors import InvalidInput


class EngineError(Exception):
    """An external code crashed, hung or wrote output we cannot parse."""

    def __init__(self, tool: str, message: str, workdir: Path | str | None = None):
        self.tool = tool
        self.message = message.strip()
        self.workdir = str(workdir) if workdir else None
        super().__init__(f"{tool}: {self.message}")


class ScientificReject(Exception):
    """The structure fails a scientific criterion (reason carries the number)."""


class TooManyAtoms(InvalidInput):
    """A calculation would simulate more atoms than its ``max_atoms``: refused before it
    starts (a 5,300-atom CHGNet relaxation took 24 GB and the OOM killer)."""


def check_atoms(tool: str, n_atoms: int, limit: int | None, what: str = "cell") -> None:
    """Raise :class:`TooManyAtoms` (one line) when ``n_atoms`` is above ``limit``."""
    if limit is not None and n_atoms > limit:
        raise TooManyAtoms(f"{tool}: the {what} has {n_atoms} atoms, above the limit of "
                           f"{limit} (max_atoms); refused before starting")


def check_supercell(tool: str, structure: Structure, cutoff_A: float, limit: int | None,
                    what: str) -> tuple[int, int, int]:
    """The replications a code with ``cutoff_A`` simulates, after :func:`check_atoms` on
    the atoms of that supercell."""
    cells = min_images(structure.lattice, cutoff_A)
    check_atoms(tool, len(structure) * cells[0] * cells[1] * cells[2], limit,
                f"{'x'.join(map(str, cells))} {what}")
    return cells


def workdir_for(workdir: Path | str | None, prefix: str) -> Path:
    """Use the given directory (created) or a fresh temporary one that is kept."""
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix=f"mofgen-{prefix}-"))
    path = Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    return path


WATCHDOG = Path(__file__).with_name("_watchdog.py")
ENV_MEMORY = "MOFGEN_ENGINE_MEMORY_GB"
DEFAULT_MEMORY_FRACTION = 0.8  # of this machine's memory, per external code


def memory_limit_bytes() -> int:
    """Address-space cap for one external code: ``$MOFGEN_ENGINE_MEMORY_GB`` (0 = none),
    else 80 % of this machine's memory."""
    text = os.environ.get(ENV_MEMORY)
    if text is not None:
        try:
            gigabytes = float(text)
        except ValueError:
            gigabytes = float("nan")
        if not (0 <= gigabytes < 1e6):
            raise EngineError("mofgen", f"{ENV_MEMORY} must be a number of GB >= 0, "
                              f"got {text!r}")
        return int(gigabytes * 2**30)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(total * DEFAULT_MEMORY_FRACTION)


def single_thread_env() -> dict[str, str]:
    """Environment for a child that must use one core (the scheduler gave us one)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_tool(
    tool: str,
    cmd: Sequence[str],
    workdir: Path,
    timeout_s: float,
    log_name: str,
    error_markers: Sequence[str] = ("ERROR",),
) -> str:
    """Run ``cmd`` in ``workdir``; return stdout, or raise :class:`EngineError`.

    stdout/stderr are kept in ``workdir/log_name(.err)``. The error message is the tool's
    own line (the first line holding one of ``error_markers``) or the tail of its output.
    """
    log, err = workdir / log_name, workdir / f"{log_name}.err"
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).is_file():
        raise EngineError(tool, f"executable not found: {cmd[0]}", workdir)
    try:
        with open(log, "w") as out, open(err, "w") as errf:
            # Own session, led by a watchdog: console-script wrappers (``lmp``) start the
            # real binary as a child, and a timeout, or the death of this process however
            # it dies, must stop them all, never orphan one.
            proc = subprocess.Popen(
                [sys.executable, str(WATCHDOG), str(os.getpid()), str(memory_limit_bytes()),
                 "--", *cmd], cwd=workdir, stdout=out, stderr=errf,
                env=single_thread_env(), stdin=subprocess.DEVNULL, start_new_session=True,
            )
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired as exc:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise EngineError(tool, f"timed out after {timeout_s:.0f} s", workdir) from exc
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
    except FileNotFoundError as exc:
        raise EngineError(tool, f"executable not found: {cmd[0]}", workdir) from exc
    stdout, stderr = log.read_text(errors="replace"), err.read_text(errors="replace")
    if proc.returncode != 0:
        raise EngineError(tool, tool_message(stdout + "\n" + stderr, error_markers)
                          or f"exit code {proc.returncode}", workdir)
    return stdout


def run_json_tool(
    tool: str, cmd: Sequence[str], workdir: Path, timeout_s: float, log_name: str,
    output_name: str,
) -> dict:
    """Run a child that writes its results as JSON; a crash, timeout or unreadable output
    is one :class:`EngineError` either way."""
    run_tool(tool, cmd, workdir, timeout_s, log_name, error_markers=("Error", "ERROR"))
    try:
        return json.loads((workdir / output_name).read_text())
    except (OSError, ValueError) as exc:
        raise EngineError(tool, f"unparsable {tool} output: {exc}", workdir) from exc


def tool_message(text: str, markers: Sequence[str] = ("ERROR",)) -> str:
    """The tool's own (last) error line if there is one, else the tail of its output."""
    for line in reversed(text.splitlines()):
        if any(m in line for m in markers):
            return line.strip()
    return _tail(text, 5)


def executable(name: str) -> str | None:
    """Find a console script next to the running interpreter first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def package_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def min_images(lattice: Lattice, cutoff_A: float) -> tuple[int, int, int]:
    """Replications so every perpendicular width of the supercell is >= 2 x cutoff."""
    m = lattice.matrix
    vol = abs(np.linalg.det(m))
    widths = [vol / np.linalg.norm(np.cross(m[(i + 1) % 3], m[(i + 2) % 3])) for i in range(3)]
    return tuple(int(np.ceil(2.0 * cutoff_A / w - 1e-9)) for w in widths)  # type: ignore[return-value]


def write_p1_cif(
    structure: Structure,
    path: Path,
    charges: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """A minimal P1 CIF that lammps-interface, Zeo++ and RASPA all read.

    ``labels`` defaults to element + index; RASPA wants force-field type names instead.
    """
    a, b, c = structure.lattice.abc
    al, be, ga = structure.lattice.angles
    rows = [
        "data_mofgen",
        "_symmetry_space_group_name_H-M 'P 1'",
        "_symmetry_Int_Tables_number 1",
        f"_cell_length_a {a:.6f}",
        f"_cell_length_b {b:.6f}",
        f"_cell_length_c {c:.6f}",
        f"_cell_angle_alpha {al:.6f}",
        f"_cell_angle_beta {be:.6f}",
        f"_cell_angle_gamma {ga:.6f}",
        "loop_",
        "_symmetry_equiv_pos_as_xyz",
        "'x, y, z'",
        "loop_",
        "_atom_site_label",
        "_atom_site_type_symbol",
        "_atom_site_fract_x",
        "_atom_site_fract_y",
        "_atom_site_fract_z",
    ]
    if charges is not None:
        rows.append("_atom_site_charge")
    for i, site in enumerate(structure):
        el = site.specie.symbol
        label = labels[i] if labels is not None else f"{el}{i + 1}"
        x, y, z = site.frac_coords % 1.0
        row = f"{label} {el} {x:.6f} {y:.6f} {z:.6f}"
        if charges is not None:
            row += f" {charges[i]:.6f}"
        rows.append(row)
    path.write_text("\n".join(rows) + "\n")
    return path


def record_charges(result, structure: Structure, charges: np.ndarray, wd: Path,
                   max_abs_charge_e: float, failure: str) -> None:
    """Fill a :class:`~mofgen.engines.results.ChargeResult` with per-site charges, the
    charged structure and the P1 CIF that GCMC reads; fail it with ``failure`` when a
    charge is larger than ``max_abs_charge_e`` (the method collapsed: don't use them)."""
    from mofgen.engines.results import Status

    charged = structure.copy()
    charged.add_site_property("charge", charges.tolist())
    result.charges = charges.tolist()
    result.total_charge_e = float(charges.sum())
    result.max_abs_charge_e = float(np.abs(charges).max())
    result.structure = charged.as_dict()
    result.cif_file = str(write_p1_cif(structure, wd / "charged.cif", charges=charges))
    if result.max_abs_charge_e > max_abs_charge_e:
        result.status = Status.failed
        result.reason = (f"{failure}: max |q| = {result.max_abs_charge_e:.2f} e "
                         f"> {max_abs_charge_e} e")
