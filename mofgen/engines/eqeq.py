"""Simulate stage, partial charges: extended charge equilibration (EQeq), in numpy.

EQeq (Wilmer, Kim & Snurr, J. Phys. Chem. Lett. 3, 2506 (2012)) is QEq with two changes
that matter for MOFs: each atom's electronegativity χ and hardness J come from measured
ionisation energies around a *charge centre* (the metal's usual oxidation state, so a
Cu(II) node is expanded around Cu²⁺, not the neutral atom), and the Coulomb interaction is
screened by a dielectric factor λ = 1.2. Hydrogen's electron affinity is set to −2.0 eV,
as in the paper. The periodic Coulomb sum is a converged Ewald sum.

Per atom, with charge centre n (0 for non-metals), ionisation energies IPₙ (IP₀ is the
electron affinity), in eV:

    J = IPₙ₊₁ − IPₙ,   χ = ½ (IPₙ₊₁ + IPₙ) − n J

and with k = 14.4 eV·Å, a = √(Jᵢ Jⱼ)/k, the pair kernel of the reference code is

    Jᵢⱼ = λ (k/2) [1/r + e^{−a²r²} (2a − a² r − 1/r)]  summed over periodic images

(the second term is the orbital-overlap damping at short range). Charges minimise
Σ χᵢ qᵢ + ½ Σᵢⱼ Hᵢⱼ qᵢ qⱼ at fixed total charge, Hᵢᵢ = Jᵢ + self-image terms. The
pyeqeq package (a C++ extension) does not build here, hence this implementation. It is
matrix-free: the real-space part is a sparse neighbour matrix, the reciprocal part two
structure-factor products, and MINRES solves the bordered (charge-conserving) system, so
memory grows with atoms × k-vectors, not atoms².

Unlike the reference code, which truncates both Ewald sums at ±2 cells with a fixed
splitting (η = 50 Å), the sums here are converged to ``ewald_precision``: the charges
are the same for a unit cell and its supercells (tests check this).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, minres
from scipy.special import erfc

from mofgen import __version__
from mofgen.engines._tools import EngineError, check_atoms, record_charges, workdir_for
from mofgen.engines.results import ChargeResult, Status

TOOL = "mofgen-eqeq"
METHOD = "eqeq"
COULOMB_EV_A = 14.4  # k = e²/(4πε₀) in eV·Å, the paper's value


@dataclass
class EqeqCharges:
    """Settings of one EQeq calculation (defaults: the paper's)."""

    dielectric: float = 1.2  # λ, the paper's screening factor
    hydrogen_electron_affinity_eV: float = -2.0  # the paper's value (measured: +0.754)
    total_charge_e: float = 0.0
    real_cutoff_A: float = 14.0  # real-space Ewald cutoff; the splitting follows from it
    ewald_precision: float = 1e-6  # erfc(α r_c) and the largest dropped k-space weight
    tolerance: float = 1e-10  # MINRES relative residual
    max_abs_charge_e: float = 4.0  # larger charges mean the equilibration collapsed
    max_atoms: int | None = 5000  # atoms of the cell (memory ~ atoms × k-vectors)
    max_kspace_bytes: float = 1.0e9  # phase factors kept in memory

    def run(self, structure: Structure, workdir: Path | str | None = None) -> ChargeResult:
        return run_eqeq(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        """:class:`~mofgen.engines._tools.TooManyAtoms` if the cell is too big."""
        check_atoms(TOOL, len(structure), self.max_atoms, "EQeq cell")


@cache
def ionisation_data() -> dict:
    """The shipped table: ionisation energies, electron affinities and charge centres."""
    path = resources.files("mofgen") / "data" / "charges" / "eqeq_ionisation.json"
    return json.loads(path.read_text())


def atom_parameters(symbol: str, hydrogen_ea_eV: float = -2.0) -> tuple[float, float, int]:
    """(χ, J, charge centre) of one element in eV; :class:`EngineError` if unknown."""
    data = ionisation_data()
    if symbol == "H":
        ip, ea = data["elements"]["H"]["ionisation_eV"][0], hydrogen_ea_eV
        return 0.5 * (ip + ea), ip - ea, 0
    row = data["elements"].get(symbol)
    centre = int(data["charge_centres"].get(symbol, 0))
    if row is None or len(row["ionisation_eV"]) < centre + 1:
        raise EngineError(TOOL, f"no EQeq ionisation data for {symbol}")
    levels = [row["electron_affinity_eV"], *row["ionisation_eV"]]  # levels[n] = IP_n
    hardness = levels[centre + 1] - levels[centre]
    chi = 0.5 * (levels[centre + 1] + levels[centre]) - centre * hardness
    return chi, hardness, centre


def run_eqeq(
    structure: Structure, calc: EqeqCharges | None = None, workdir: Path | str | None = None
) -> ChargeResult:
    """EQeq charges per site of ``structure``; writes ``charged.cif`` in the work directory."""
    calc = calc or EqeqCharges()
    calc.check_size(structure)
    wd = workdir_for(workdir, "eqeq")
    t0 = time.perf_counter()
    result = ChargeResult(workdir=str(wd), tool=TOOL, method=METHOD,
                          software_version=f"mofgen {__version__}")
    try:
        charges = equilibrate(structure, calc, wd)
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
        result.wall_time_s = time.perf_counter() - t0
        return result
    record_charges(result, structure, charges, wd, calc.max_abs_charge_e,
                   "EQeq charges diverged")
    result.wall_time_s = time.perf_counter() - t0
    return result


def equilibrate(structure: Structure, m: EqeqCharges, wd: Path | None = None) -> np.ndarray:
    """Solve the EQeq equations; the charges in e, one per site."""
    symbols = [site.specie.symbol for site in structure]
    params = {el: atom_parameters(el, m.hydrogen_electron_affinity_eV) for el in set(symbols)}
    chi = np.array([params[el][0] for el in symbols])
    hardness = np.array([params[el][1] for el in symbols])
    n = len(structure)
    scale = m.dielectric * COULOMB_EV_A / 2.0  # λ k/2 of the reference kernel
    alpha = math.sqrt(-math.log(m.ewald_precision)) / m.real_cutoff_A
    real = _real_space(structure, hardness, alpha, m.real_cutoff_A)
    reciprocal = _Reciprocal(structure, alpha, m.ewald_precision, m.max_kspace_bytes, wd)
    diagonal = hardness - scale * 2.0 * alpha / math.sqrt(math.pi)

    def hessian(q: np.ndarray) -> np.ndarray:
        return diagonal * q + scale * (real @ q + reciprocal(q))

    def bordered(x: np.ndarray) -> np.ndarray:  # [H -1; -1ᵀ 0] [q; μ]
        q, mu = x[:n], x[n]
        return np.concatenate([hessian(q) - mu, [-q.sum()]])

    h_diag = np.abs(diagonal + scale * (real.diagonal() + reciprocal.self_weight))
    schur = float(np.sum(1.0 / h_diag))
    precondition = np.concatenate([1.0 / h_diag, [1.0 / schur]])
    op = LinearOperator((n + 1, n + 1), matvec=bordered, dtype=float)
    pre = LinearOperator((n + 1, n + 1), matvec=lambda x: precondition * x, dtype=float)
    rhs = np.concatenate([-chi, [-m.total_charge_e]])
    solution, info = minres(op, rhs, M=pre, rtol=m.tolerance, maxiter=20 * n + 200)
    residual = np.linalg.norm(bordered(solution) - rhs) / np.linalg.norm(rhs)
    if info != 0 and residual > 1e-6:
        raise EngineError(TOOL, f"EQeq equations did not converge (MINRES info {info}, "
                                f"relative residual {residual:.1e})", wd)
    charges = solution[:n]
    if not np.all(np.isfinite(charges)):
        raise EngineError(TOOL, "EQeq produced non-finite charges", wd)
    return charges


def _real_space(structure: Structure, hardness: np.ndarray, alpha: float,
                cutoff: float) -> sparse.csr_matrix:
    """Screened Coulomb plus orbital overlap over all pairs and self-images within cutoff."""
    centre, neighbour, _, dist = structure.get_neighbor_list(cutoff, exclude_self=True)
    if len(dist) and dist.min() < 0.1:
        raise EngineError(TOOL, f"atoms {dist.min():.3f} Å apart: not a valid structure")
    a = np.sqrt(hardness[centre] * hardness[neighbour]) / COULOMB_EV_A
    overlap = np.exp(-(a * dist) ** 2) * (2.0 * a - a * a * dist - 1.0 / dist)
    values = erfc(alpha * dist) / dist + overlap
    n = len(structure)
    return sparse.coo_matrix((values, (centre, neighbour)), shape=(n, n)).tocsr()


class _Reciprocal:
    """k-space Ewald part as a matrix-free product: (4π/V) Σ_k w_k cos(k·(rᵢ − rⱼ)) q_j."""

    def __init__(self, structure: Structure, alpha: float, precision: float,
                 max_bytes: float, wd: Path | None):
        lattice = structure.lattice
        k_max = 2.0 * alpha * math.sqrt(-math.log(precision))
        recip = lattice.reciprocal_lattice.matrix  # rows, 2π included
        # k·a_i = 2π h_i and |k| ≤ k_max bound |h_i| ≤ k_max |a_i| / 2π
        bounds = [int(math.ceil(k_max * np.linalg.norm(v) / (2 * math.pi)))
                  for v in lattice.matrix]
        h, k, l_ = np.meshgrid(*[np.arange(-b, b + 1) for b in bounds], indexing="ij")
        hkl = np.stack([h.ravel(), k.ravel(), l_.ravel()], axis=1)
        # half space: one of each ±k pair (cos is even), weight doubled
        first = np.where(hkl[:, 0] != 0, hkl[:, 0],
                         np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
        hkl = hkl[first > 0]
        kvec = hkl @ recip
        k2 = np.einsum("ij,ij->i", kvec, kvec)
        keep = k2 <= k_max * k_max
        hkl, k2 = hkl[keep], k2[keep]
        self.weights = 2.0 * (4.0 * math.pi / lattice.volume) * np.exp(
            -k2 / (4.0 * alpha * alpha)) / k2
        self.self_weight = float(self.weights.sum())
        self.frac = structure.frac_coords
        self.hkl = hkl.astype(float)
        n_bytes = 8.0 * len(self.frac) * len(hkl)  # complex64 phases
        self.phases = None
        if n_bytes <= max_bytes:
            self.phases = np.exp(2j * math.pi * (self.frac @ self.hkl.T)).astype(np.complex64)
        self.chunk = max(1, int(max_bytes / (16.0 * max(1, len(self.frac)))))

    def __call__(self, q: np.ndarray) -> np.ndarray:
        if self.phases is not None:
            factors = self.phases.T @ q.astype(np.complex64)  # S(k) = Σ_j q_j e^{ik·r_j}
            return np.real(self.phases @ (self.weights * np.conj(factors))).astype(float)
        out = np.zeros(len(q))
        for start in range(0, len(self.hkl), self.chunk):
            phases = np.exp(2j * math.pi * (self.frac @ self.hkl[start:start + self.chunk].T))
            factors = phases.T @ q
            out += np.real(phases @ (self.weights[start:start + self.chunk]
                                     * np.conj(factors)))
        return out
