"""Crystal discovery library: prototypes, template substitution, validity, energies, dedup.

The campaign engine calls these from stage jobs (kind ``crystal``): generate =
:func:`generate.candidates`; validate = :func:`validity.check_validity` +
:func:`energy.screen_batch` + :mod:`dedup`; simulate = the CHGNet relaxation of
:mod:`mofgen.engines.chgnet_relax` (:func:`energy.relaxation_settings`) +
:func:`energy.energy_above_hull` against :func:`energy.build_references`. Submodules are
imported lazily by callers so that ``import mofgen.crystal`` does not load torch.
"""
