"""CHGNet energies, formation energies and the Li-Fe-O convex hull, for real.

Tolerances. Hull distances use one method throughout: every reference phase and every
candidate is relaxed with the same CHGNet model (FIRE, fmax 0.05 eV/A). CHGNet's energy
error against its MP training data is ~0.03 eV/atom, and MP2020-corrected GGA(+U)
formation energies of oxides are within ~0.05 eV/atom of experiment, so 0.1 eV/atom (also
exa-AMD's "promising" hull threshold) covers both for formation energies and E_hull.
Known stable phases must also come out *below* the hull of all the other phases
(leave-one-out E_hull < 0): that is the non-trivial statement that CHGNet ranks them stable.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mofgen.crystal import energy
from mofgen.crystal.dedup import is_duplicate
from mofgen.crystal.generate import candidates
from mofgen.crystal.prototypes import reference_phases
from mofgen.errors import InvalidInput

torch.set_num_threads(1)

# standard enthalpies of formation (NIST-JANAF / Wagman et al. 1982), eV/atom
EXPERIMENT = {"Li2O": -6.200 / 3, "Fe2O3": -8.563 / 5}
TOLERANCE = 0.1  # eV/atom, see the module docstring

# LiFe5O8 (56 atoms) is left out to keep the suite fast; the hull is still ternary
PHASES = ["Li (bcc)", "Fe (bcc)", "O2 (molecule)", "Li2O", "FeO", "Fe2O3", "Fe3O4", "LiFeO2"]


@pytest.fixture(scope="module")
def refs():
    return energy.build_references(reference_phases("Li-Fe-O", names=PHASES), steps=300)


@pytest.fixture(scope="module")
def li_fe_o():
    return candidates("Li-Fe-O")


def _without(refs, name):
    return energy.References(tuple(e for e in refs.entries if e.data["name"] != name),
                             refs.method)


def test_references_relaxed_consistently(refs):
    assert refs.method.startswith("chgnet-")
    assert set(refs.elemental_energies) == {"Li", "Fe", "O"}
    for entry in refs.entries:
        assert entry.data["converged"], entry.data["name"]
    again = energy.References.from_dict(refs.as_dict())
    assert again.method == refs.method
    assert [e.energy for e in again.entries] == pytest.approx([e.energy for e in refs.entries])


@pytest.mark.parametrize("name", ["Li2O", "Fe2O3"])
def test_known_oxides_on_the_hull(refs, name):
    entry = refs.entry(name)
    e_form = energy.formation_energy_per_atom(entry.composition, entry.energy_per_atom, refs)
    assert e_form == pytest.approx(EXPERIMENT[name], abs=TOLERANCE)
    e_hull = energy.energy_above_hull(entry.composition, entry.energy_per_atom, refs)
    assert -1e-6 < e_hull < TOLERANCE
    # stable against every other phase: below the hull built without it
    alone = energy.energy_above_hull(entry.composition, entry.energy_per_atom,
                                     _without(refs, name))
    assert alone < 0, f"{name}: {alone:+.3f} eV/atom above the hull of the other phases"


def test_every_reference_compound_is_on_the_hull(refs):
    pd = refs.phase_diagram
    for entry in refs.entries:
        assert pd.get_e_above_hull(entry) < TOLERANCE, entry.data["name"]


def test_substituted_candidates_relax_onto_the_known_phases(refs, li_fe_o, tmp_path):
    """Corundum Al2O3 -> Fe2O3 and antifluorite Na2O -> Li2O, relaxed as the simulate stage
    does (child process): E_hull ~ 0 and the relaxed structure is the reference phase
    itself (the campaign rediscovers its seeds)."""
    for formula, proto in [("Fe2O3", "corundum"), ("Li2O", "antifluorite")]:
        cand = next(c for c in li_fe_o if (c.formula, c.prototype) == (formula, proto))
        relaxed = energy.relaxation_settings(steps=300).run(cand.structure, tmp_path / formula)
        assert relaxed.ok and relaxed.converged, relaxed.reason
        assert relaxed.method == refs.method  # one method for candidates and references
        final = relaxed.relaxed_structure
        e_hull = energy.energy_above_hull(final, relaxed.energy_per_atom_eV, refs)
        assert abs(e_hull) < TOLERANCE, f"{formula}: {e_hull:+.3f}"
        assert is_duplicate(final, [refs.entry(formula).structure])


def test_batched_equals_one_by_one(refs, li_fe_o):
    structures = [c.structure for c in li_fe_o]
    batched = energy.screen_batch(structures, batch_size=4, references=refs)
    single = energy.screen_one_by_one(structures, references=refs)
    assert np.allclose([r.energy_per_atom for r in batched],
                       [r.energy_per_atom for r in single], atol=1e-4)
    for c, r in zip(li_fe_o, batched):
        assert r.formation_energy_per_atom < 0, c.formula  # all oxides: exothermic
        assert r.passes(-0.2)  # exa-AMD's screening threshold
    assert energy.predict_energies([]).shape == (0,)


def test_bad_input(refs):
    from pymatgen.core import Composition

    with pytest.raises(InvalidInput, match="outside"):
        energy.energy_above_hull(Composition("NaCl"), -3.0, refs)
    with pytest.raises(InvalidInput, match="no elemental reference"):
        energy.formation_energy_per_atom(Composition("NaCl"), -3.0, refs)
    with pytest.raises(InvalidInput, match="not a pymatgen Structure"):
        energy.screen_batch(["POSCAR"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="batch_size"):
        energy.predict_energies([refs.entry("FeO").structure], batch_size=0)
    with pytest.raises(InvalidInput, match="elemental phase"):
        energy.energy_above_hull(Composition("FeO"), -8.0, _without(refs, "O2 (molecule)"))


def _small_crystals():
    """Cells of 2 to 16 atoms, out of size order (no references needed)."""
    from pymatgen.core import Lattice, Structure

    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.21), ["Mg", "O"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.59, 2.96),
                                       ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]])
    perovskite = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"],
                                           [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0]])
    big = rocksalt.copy()
    big.make_supercell([2, 2, 2])
    return [rutile, big, rocksalt, perovskite]


def test_sorted_batches_keep_every_structure_once_and_in_order():
    structures = _small_crystals()
    model = energy.load_model()
    graphs = energy.build_graphs(structures, model)
    angles = [len(g.bond_graph) for g in graphs]
    plan = energy.batches(graphs, batch_size=2)
    assert sorted(i for b in plan for i in b) == [0, 1, 2, 3]
    assert all(len(b) <= 2 for b in plan)
    flat = [angles[i] for b in plan for i in b]
    assert flat == sorted(flat)  # smallest first: a batch holds similar sizes
    largest = int(np.argmax(angles))
    capped = energy.batches(graphs, batch_size=4, max_angles=max(angles) - 1)
    assert [largest] in capped  # too big for the cap: alone, never dropped
    assert all(sum(angles[i] for i in b) < max(angles) or b == [largest] for b in capped)

    batched = energy.predict_energies(structures, batch_size=3, model=model)
    single = energy.predict_energies_one_by_one(structures, model=model)
    # the same structure: supercell and primitive rock salt agree per atom
    assert batched[1] == pytest.approx(batched[2], abs=1e-4)
    assert np.allclose(batched, single, atol=1e-5), batched - single  # float32 rounding
    assert np.array_equal(energy.predict_graph_energies(graphs, 3, model), batched)
    with pytest.raises(InvalidInput, match="max_angles"):
        energy.batches(graphs, max_angles=0)
    with pytest.raises(InvalidInput, match="graphs"):
        energy.screen_graphs(structures, graphs[:2], model=model)
