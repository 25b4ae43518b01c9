"""The database record of one MOF (``records.jsonl``): what users of CoRE MOF, QMOF or
MOFX-DB look for, built from a structure document and its stage records.

Blocks (every number with its unit, every field in the README's table):

* identity — content-hash ID (``mofgen.export.record.content_hash`` of the generated
  structure), release, licence, campaign, state;
* ``charges`` — per-site partial charges and the method that computed them;
* ``pores`` — Zeo++ descriptors with the probe radius;
* ``adsorption`` — a NIST-ISODB-like isotherm point (keys as NIST's JSON: ``adsorbates``,
  ``pressureUnits``, ``isotherm_data`` …) with the GCMC conditions and force field;
* ``stability`` — the MD protocol and the strain with its uncertainty over replicas;
* ``validity`` — MOFChecker-style flags (MOFChecker does not install here; the flags
  come from ``mofgen.chemistry.screen`` and ``mofgen.sanity`` on the published geometry);
* ``lineage`` — generator model version and its ancestors, the linkers it generated,
  retrain versions and software versions.

Numbers a stage did not record are ``null``; conditions an older record lacks are taken
from the campaign config that produced it (``conditions_source`` says which).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pydantic import Field
from pymatgen.core import Structure

from mofgen.export.record import (
    CANONICAL_FORM,
    DIMENSIONLESS,
    ExportContext,
    Quantity,
    RecordModel,
    content_hash,
    content_id,
    quantity,
    unit_field,
)
from mofgen.records import RELAXED_STRUCTURE, get_path

RECORD_SCHEMA = "mofgen-mof-record-v1"
HIGH_CHARGE_E = 3.0  # |q| above this on any site is flagged (ours; DDEC MOF charges < ~2.5 e)
INCHIKEYS = {"CO2": "CURLTUGMZLYLDI-UHFFFAOYSA-N", "N2": "IJGRMHOSHXDMSA-UHFFFAOYSA-N"}
GCMC_CUTOFF_A = 12.8  # mofgen.engines.raspa.GcmcAdsorption default, for older records


# ----------------------------------------------------------------------------- blocks
class ContentHash(RecordModel):
    algorithm: str = Field("sha256", description="hash function")
    canonical_form: str = Field(CANONICAL_FORM, description=(
        "version of the canonical text that is hashed (README: Content hash)"))
    hashed: str = Field(..., description=(
        "which geometry was hashed: 'generated' (the structure as generated, fixed for "
        "the life of the entry)"))
    value: str = Field(..., description="hex digest; `id` is `mofgen-` + its first 24 digits")


class Charges(RecordModel):
    method: str = Field(..., description="charge method as the simulate stage named it "
                                         "(e.g. QEq (Rappé-Goddard))")
    tool: str | None = Field(None, description="code that computed the charges")
    software_version: str | None = Field(None, description="its version")
    unit: str = Field("e", description="unit of `values`: elementary charge")
    values: list[float] = Field(..., json_schema_extra={"unit": "e"}, description=(
        "per-site partial charges (e), in the site order of the published structure "
        "(`cif_file`, `_atom_site_charge`)"))
    total: Quantity | None = unit_field("e", "sum of `values` (0 for a neutral cell)")
    max_abs: Quantity | None = unit_field("e", "largest |charge| on any site")


class Pores(RecordModel):
    tool: str = Field("zeo++", description="code (Zeo++ through pyzeo)")
    software_version: str | None = Field(None, description="its version")
    geometry: str = Field(..., description="geometry analysed: relaxed (simulate stage)")
    probe_radius: Quantity = unit_field("Å", "probe radius of every probe-dependent "
                                             "descriptor below (CO2: 1.65 Å)")
    lcd: Quantity | None = unit_field("Å", "largest cavity diameter (included sphere)")
    pld: Quantity | None = unit_field("Å", "pore-limiting diameter (largest free sphere)")
    lcd_free_path: Quantity | None = unit_field("Å", "largest included sphere along the "
                                                     "free path")
    asa_per_cell: Quantity | None = unit_field("Å^2", "probe-accessible surface area per "
                                                      "unit cell (Zeo++ -sa ASA_A^2)")
    asa_gravimetric: Quantity | None = unit_field("m^2/g", "probe-accessible surface area "
                                                           "per framework mass (ASA_m^2/g)")
    pore_volume_per_cell: Quantity | None = unit_field("Å^3", (
        "accessible pore volume per cell (Zeo++ -vol AV_A^3: volume the probe centre "
        "reaches); null on records made before it was computed"))
    pore_volume_gravimetric: Quantity | None = unit_field("cm^3/g", (
        "accessible pore volume per framework mass (Zeo++ -vol AV_cm^3/g)"))
    void_fraction: Quantity | None = unit_field(DIMENSIONLESS, (
        "accessible volume fraction (Zeo++ -vol AV_Volume_fraction)"))
    density: Quantity | None = unit_field("g/cm^3", "framework density")
    accessible: bool | None = Field(None, description="the probe percolates through "
                                                      "the framework (channels > 0)")
    status: str | None = Field(None, description="ok, or rejected (too narrow for the "
                                                 "probe) with the reason in `reason`")
    reason: str | None = Field(None, description="why rejected or failed")


class Adsorbent(RecordModel):
    name: str = Field(..., description="mofgen document id (`source_id`)")
    hashkey: str = Field(..., description="content hash (`content_hash.value`)")


class Adsorbate(RecordModel):
    name: str = Field(..., description="gas (CO2, N2)")
    inchikey: str | None = Field(None, alias="InChIKey", description="its InChIKey")


class SpeciesData(RecordModel):
    inchikey: str | None = Field(None, alias="InChIKey", description="adsorbate InChIKey")
    composition: float = Field(1.0, description="mole fraction in the gas (1: pure gas)")
    adsorption: float | None = Field(None, json_schema_extra={"unit": "mol/kg"},
                                     description="uptake of this species, in "
                                                 "`adsorptionUnits`")


class IsothermPoint(RecordModel):
    pressure: float = Field(..., json_schema_extra={"unit": "bar"},
                            description="pressure, in `pressureUnits`")
    total_adsorption: float | None = Field(None, json_schema_extra={"unit": "mol/kg"},
                                           description=(
        "absolute uptake, in `adsorptionUnits` (mean over replicas when there are "
        "several)"))
    total_adsorption_uncertainty: float | None = Field(
        None, json_schema_extra={"unit": "mol/kg"}, description=(
        "uncertainty of `total_adsorption`, same unit; its kind is `uncertainty_type`"))
    uncertainty_type: str | None = Field(None, description=(
        "standard error (RASPA2 blocks and replicas), or RASPA2's +/- on older records"))
    species_data: list[SpeciesData] = Field(..., description="per-species uptake")


class ForceField(RecordModel):
    framework: str = Field(..., description="framework Lennard-Jones parameters")
    adsorbate: str = Field(..., description="adsorbate model")
    mixing_rule: str = Field(..., description="Lennard-Jones cross terms (Lorentz-Berthelot)")
    potential: str = Field(..., description="truncated or shifted at the cutoff")
    tail_corrections: bool = Field(..., description="analytic tail corrections applied")
    electrostatics: str = Field(..., description="Ewald with framework charges, or none")
    source: str = Field(..., description="where the RASPA2 definition files come from")


class GcmcSettings(RecordModel):
    method: str = Field("GCMC", description="grand-canonical Monte Carlo, rigid framework")
    code: str = Field("RASPA2", description="simulation code")
    software_version: str | None = Field(None, description="its version")
    force_field: ForceField = Field(..., description="force field of the run")
    cutoff: Quantity = unit_field("Å", "Lennard-Jones and real-space Coulomb cutoff")
    cycles: int | None = Field(None, description="production cycles")
    init_cycles: int | None = Field(None, description="equilibration cycles")
    unit_cells: list[int] | None = Field(None, description="unit cells in the box (a, b, c)")
    charges_used: bool = Field(..., description="framework charges were used (Ewald)")
    charges_method: str | None = Field(None, description="method of those charges "
                                                         "(`charges.method`)")
    conditions_source: str = Field(..., description=(
        "'record': T, P, cycles as the adsorb stage stored them; 'campaign config': an "
        "older record without them, filled from the campaign's mof settings"))


class Adsorption(RecordModel):
    """One GCMC state point in the shape of a NIST ISODB isotherm (JSON keys as NIST's)."""

    category: str = Field("sim", description="NIST: 'sim' (simulated) or 'exp'")
    isotherm_type: str = Field("absolute", description="absolute (not excess) uptake")
    adsorbent: Adsorbent = Field(..., description="the framework")
    adsorbates: list[Adsorbate] = Field(..., description="the gas")
    temperature: float = Field(..., json_schema_extra={"unit": "K"},
                               description="temperature, in `temperatureUnits`")
    temperature_units: str = Field("K", alias="temperatureUnits", description="K")
    pressure_units: str = Field("bar", alias="pressureUnits", description="bar")
    adsorption_units: str = Field("mol/kg", alias="adsorptionUnits",
                                  description="mol per kg of framework")
    composition_type: str = Field("molefraction", alias="compositionType",
                                  description="how `species_data.composition` is given")
    isotherm_data: list[IsothermPoint] = Field(..., description="the state point(s)")
    replicas: list[float] | None = Field(None, json_schema_extra={"unit": "mol/kg"},
                                         description=(
        "uptake of each independent replica (mol/kg), when the stage ran several"))
    heat_of_adsorption: Quantity | None = unit_field("kJ/mol", (
        "isosteric heat from fluctuations (positive = exothermic), with RASPA2's error"))
    uptake_gravimetric_mass: Quantity | None = unit_field("mg/g", "uptake in mg per g")
    uptake_per_cell: Quantity | None = unit_field("molecules/cell", "uptake per unit cell")
    simulation: GcmcSettings = Field(..., description="how the point was simulated")


class Stability(RecordModel):
    code: str = Field("LAMMPS", description="molecular dynamics code")
    software_version: str | None = Field(None, description="its version")
    force_field: str = Field("UFF4MOF (lammps-interface typing, no charges)",
                             description="force field of the MD")
    protocol_name: str | None = Field(None, description=(
        "named protocol (mofgen.engines.lammps_md.PRESETS: demo, demo-avg, mofa)"))
    protocol: dict[str, Any] | None = Field(None, description=(
        "every setting that shapes the strain, as stored by the validate stage (steps, "
        "timestep_fs, minimisation, damping, replica, strain_formula, "
        "average_last_fraction, seed, overrides …)"))
    ensemble: str = Field("NPT (Nosé–Hoover, triclinic)", description="MD ensemble")
    temperature: Quantity | None = unit_field("K", "MD temperature")
    pressure: Quantity | None = unit_field("atm", "MD pressure")
    timestep: Quantity | None = unit_field("fs", "MD time step")
    steps: int | None = Field(None, description="MD steps per replica")
    supercell: list[int] | None = Field(None, description="unit cells of the MD box")
    strain_formula: str | None = Field(None, description=(
        "lagrangian: max |eig| of ½(e+eᵀ), e = R0⁻¹R1 − I; mofa: E = C0·C1⁻¹ − I"))
    strain: Quantity | None = unit_field(DIMENSIONLESS, (
        "lattice strain (fraction; mean over replicas when there are several), with "
        "the standard error over replicas as uncertainty when known"))
    strain_std: Quantity | None = unit_field(DIMENSIONLESS, (
        "standard deviation of the strain over replicas (null: one replica)"))
    strain_sem: Quantity | None = unit_field(DIMENSIONLESS, (
        "standard error of the mean strain over replicas (null: one replica)"))
    strain_replicas: list[float] | None = Field(None, json_schema_extra={"unit": "1"},
                                                description=(
        "strain of each replica (fraction), when the stage ran several"))
    replicas: int | None = Field(None, description="independent MD replicas run")
    strain_last_frame: Quantity | None = unit_field(DIMENSIONLESS, (
        "strain of the last MD frame alone (= strain unless averaged)"))
    strain_window_std: Quantity | None = unit_field(DIMENSIONLESS, (
        "std of the per-sample strains in the averaging window of one run"))
    volume_change: Quantity | None = unit_field(DIMENSIONLESS, "V1/V0 − 1 of the cell")
    stable_strain: Quantity | None = unit_field(DIMENSIONLESS, "threshold for 'stable'")
    stable: bool | None = Field(None, description="strain below `stable_strain`")
    status: str | None = Field(None, description="ok, rejected (strain too large or the "
                                                 "framework fell apart) or failed")
    reason: str | None = Field(None, description="why rejected or failed")


class Check(RecordModel):
    check: str = Field(..., description="check name")
    source: str = Field(..., description="mofgen.chemistry.screen (MOFA's geometric screen) "
                                         "or mofgen.sanity")
    passed: bool = Field(..., description="the structure passed it")
    value: float | None = Field(None, description="worst value when failed (unit of the "
                                                  "check: Å, degrees, count, e, g/cm^3)")
    threshold: float | None = Field(None, description="limit it broke")
    detail: str | None = Field(None, description="one line: where and why")


class Validity(RecordModel):
    checker: str = Field(..., description=(
        "what computed the flags (MOFChecker-style names; MOFChecker itself does not "
        "install here)"))
    geometry: str = Field(..., description="geometry checked: the published one "
                                           "(relaxed when simulated, else generated)")
    has_carbon: bool = Field(..., description="MOFChecker: contains C")
    has_hydrogen: bool = Field(..., description="MOFChecker: contains H")
    has_metal: bool = Field(..., description="MOFChecker: contains a metal")
    has_atomic_overlaps: bool = Field(..., description=(
        "MOFChecker name: two atoms closer than the OChemDB minimum bond length of their "
        "pair, or than half their covalent radii sum"))
    has_lone_molecule: bool = Field(..., description=(
        "MOFChecker name: a bonded fragment not attached to the framework"))
    has_bad_coordination: bool = Field(..., description=(
        "H not bonded once, C/N/O/halogen beyond valence, or a metal with < 3 donors"))
    has_bad_bond_lengths: bool = Field(..., description="a bond outside its OChemDB range")
    has_bad_bond_angles: bool = Field(..., description="two bonds at one atom < 55°")
    is_charge_neutral: bool | None = Field(None, description=(
        "formal oxidation states balance (null: a metal without a known state)"))
    has_high_charges: bool | None = Field(None, description=(
        f"a partial charge with |q| > {HIGH_CHARGE_E:g} e (null: no charges)"))
    is_porous: bool | None = Field(None, description=(
        "MOFChecker name: the probe percolates (Zeo++; null before the simulate stage)"))
    is_stable: bool | None = Field(None, description="strain below the stability threshold "
                                                     "(null before validation)")
    passed: bool = Field(..., description="every geometric and sanity check passed")
    checks: list[Check] = Field(..., description="each check run on the geometry")


class ParentLinker(RecordModel):
    smiles: str = Field(..., description="linker SMILES as generated")
    linker_id: str | None = Field(None, description="id in the `linkers` collection")
    anchor: str | None = Field(None, description="anchor group (COO, cyano)")
    model_version: str | None = Field(None, description="generator version that made it")


class Lineage(RecordModel):
    generator_model_version: str | None = Field(None, description=(
        "generator model version that generated the linkers"))
    generator_model_lineage: list[str] = Field(..., description=(
        "that version and its ancestors, newest first (parents in `models`)"))
    mofgen_version: str | None = Field(None, description="mofgen version that generated it")
    node: str | None = Field(None, description="metal node (e.g. Zn paddle-wheel)")
    parent_linkers: list[ParentLinker] = Field(..., description="linkers it is built from")
    retrain_versions: list[str] = Field(..., description=(
        "model versions this structure helped train (retrain stage)"))
    software_versions: dict[str, list[str]] = Field(..., description=(
        "every code version recorded in its history, name → versions"))
    created_at: str | None = Field(None, description="when it was generated (UTC, ISO 8601)")


class MofRecord(RecordModel):
    """One line of ``records.jsonl``."""

    id: str = Field(..., description="stable content-hash ID: `mofgen-` + the first 24 hex "
                                     "digits of `content_hash.value`")
    schema_version: str = Field(RECORD_SCHEMA, alias="schema", description="record layout")
    release: str = Field(..., description="release of this export (--release; default the "
                                          "UTC date of the newest data, YYYY.MM.DD)")
    licence: str = Field(..., description="licence of the data (--licence, SPDX id)")
    content_hash: ContentHash = Field(..., description="what `id` is computed from")
    published_structure_hash: str = Field(..., description=(
        "sha256 of the canonical text of the published geometry (`cif_file`)"))
    identity_hash: str | None = Field(None, description=(
        "bond-graph hash used for de-duplication (identifiers.structure_hash)"))
    source_id: str = Field(..., description="mofgen document id (structures.jsonl `_id`)")
    campaign: str = Field(..., description="campaign that generated it")
    kind: str = Field(..., description="campaign kind (mof)")
    state: str = Field(..., description="last state reached (generated … retrained, "
                                        "rejected, failed)")
    formula: str | None = Field(None, description="reduced formula")
    n_sites: int = Field(..., description="sites in the published cell")
    published_geometry: str = Field(..., description="relaxed (simulate stage) or generated")
    cif_file: str = Field(..., description="its CIF in this export (format cif)")
    charges: Charges | None = Field(None, description="partial charges (null: not simulated)")
    pores: Pores | None = Field(None, description="Zeo++ pore descriptors")
    adsorption: Adsorption | None = Field(None, description="GCMC uptake, NIST-ISODB-like")
    stability: Stability | None = Field(None, description="MD stability protocol and strain")
    validity: Validity = Field(..., description="MOFChecker-style validity flags")
    lineage: Lineage = Field(..., description="where it came from")


# ----------------------------------------------------------------------------- builders
def _published(doc: dict[str, Any]) -> tuple[Structure, str]:
    relaxed = get_path(doc, RELAXED_STRUCTURE)
    if isinstance(relaxed, dict) and "lattice" in relaxed:
        return Structure.from_dict(relaxed), "relaxed"
    return Structure.from_dict(doc["structure"]), "generated"


def _spread(values: list[float] | None) -> tuple[float | None, float | None]:
    """(std, standard error) of replica values (sample std, n − 1); None below two."""
    if not values or len(values) < 2:
        return None, None
    std = statistics.stdev(values)
    return std, std / math.sqrt(len(values))


def _floats(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not value:
        return None
    return [float(v) for v in value if isinstance(v, int | float)]


def charges_block(doc: dict[str, Any], structure: Structure) -> Charges | None:
    record = get_path(doc, "simulate.charges") or {}
    values = record.get("charges") or structure.site_properties.get("charge")
    if not record.get("method") or not values or len(values) != len(structure) \
            or any(v is None for v in values):
        return None
    values = [float(v) for v in values]
    return Charges(
        method=record["method"], tool=record.get("tool"),
        software_version=record.get("software_version") or None, values=values,
        total=quantity(record.get("total_charge_e", sum(values)), "e"),
        max_abs=quantity(record.get("max_abs_charge_e", max(abs(v) for v in values)), "e"))


def pores_block(doc: dict[str, Any]) -> Pores | None:
    p = get_path(doc, "simulate.pores")
    if not p:
        return None
    return Pores(
        software_version=p.get("software_version") or None, geometry="relaxed",
        probe_radius=quantity(p.get("probe_radius_A", 1.65), "Å"),
        lcd=quantity(p.get("lcd_A"), "Å"), pld=quantity(p.get("pld_A"), "Å"),
        lcd_free_path=quantity(p.get("lcd_free_path_A"), "Å"),
        asa_per_cell=quantity(p.get("asa_A2"), "Å^2"),
        asa_gravimetric=quantity(p.get("asa_m2_per_g"), "m^2/g"),
        pore_volume_per_cell=quantity(p.get("pore_volume_A3"), "Å^3"),
        pore_volume_gravimetric=quantity(p.get("pore_volume_cm3_per_g"), "cm^3/g"),
        void_fraction=quantity(p.get("void_fraction"), DIMENSIONLESS),
        density=quantity(p.get("density_g_per_cm3"), "g/cm^3"),
        accessible=p.get("accessible"), status=p.get("status"), reason=p.get("reason"))


def adsorption_block(doc: dict[str, Any], digest: str, settings: Any,
                     charges: Charges | None) -> Adsorption | None:
    from mofgen.engines.raspa import force_field_info

    a = doc.get("adsorb")
    if not a:
        return None
    from_record = "temperature_K" in a
    adsorbate = a.get("adsorbate", "CO2")
    uptake = a.get("co2_uptake", a.get("uptake_mol_per_kg"))
    replicas = _floats(a.get("co2_uptake_replicas"))
    # the adsorb stage's co2_uptake_error is one standard error (RASPA2's blocks, and the
    # replica spread when there are several: flows/adsorb.py); records written before it
    # carry only RASPA2's "+/-", the 95 % confidence half-width of its 5 block means
    error, kind = a.get("co2_uptake_error"), "standard error (RASPA2 blocks; replicas)"
    if error is None and a.get("uptake_error_mol_per_kg") is not None:
        error, kind = a["uptake_error_mol_per_kg"], "RASPA2 +/- (95 % half-width, 5 blocks)"
    _, sem = _spread(replicas)
    if a.get("co2_uptake_error") is None and sem is not None:
        uptake, error = statistics.fmean(replicas), sem
        kind = f"standard error of the mean of {len(replicas)} replicas"
    if error is None:
        kind = None
    charges_used = bool(a.get("charges_used", True))
    stored_ff = a.get("force_field")
    force_field = ForceField(**stored_ff) if stored_ff else ForceField(
        **force_field_info(adsorbate, charges_used).model_dump())
    inchikey = INCHIKEYS.get(adsorbate)
    temperature = a["temperature_K"] if from_record else settings.temperature_K
    pressure = a.get("pressure_bar") if from_record else settings.pressure_bar
    return Adsorption(
        adsorbent=Adsorbent(name=str(doc["_id"]), hashkey=digest),
        adsorbates=[Adsorbate(name=adsorbate, InChIKey=inchikey)],
        temperature=float(temperature),
        isotherm_data=[IsothermPoint(
            pressure=float(pressure), total_adsorption=uptake,
            total_adsorption_uncertainty=error, uncertainty_type=kind,
            species_data=[SpeciesData(InChIKey=inchikey, composition=1.0,
                                      adsorption=uptake)])],
        replicas=replicas,
        heat_of_adsorption=quantity(a.get("heat_of_adsorption_kJ_per_mol"), "kJ/mol",
                                    a.get("heat_of_adsorption_error_kJ_per_mol"),
                                    "RASPA2 block-average error"),
        uptake_gravimetric_mass=quantity(a.get("uptake_mg_per_g"), "mg/g"),
        uptake_per_cell=quantity(a.get("uptake_molecules_per_cell"), "molecules/cell"),
        simulation=GcmcSettings(
            software_version=a.get("software_version") or None, force_field=force_field,
            cutoff=quantity(a.get("cutoff_A", GCMC_CUTOFF_A), "Å"),
            cycles=a.get("cycles") if from_record else settings.gcmc_cycles,
            init_cycles=a.get("init_cycles") if from_record else settings.gcmc_cycles,
            unit_cells=list(a["unit_cells"]) if a.get("unit_cells") else None,
            charges_used=charges_used,
            charges_method=charges.method if charges is not None and charges_used else None,
            conditions_source="record" if from_record else "campaign config"))


def stability_block(doc: dict[str, Any], settings: Any) -> Stability | None:
    v = doc.get("validate")
    if not v:
        return None
    protocol = v.get("protocol") or None
    replicas = _floats(v.get("strain_replicas"))
    std, sem = v.get("strain_std"), v.get("strain_sem")
    if replicas and std is None and sem is None:
        std, sem = _spread(replicas)
    strain = v.get("strain")
    threshold = v.get("stable_strain", settings.thresholds.stable_strain)
    stable = v.get("stable") if "stable" in v else (
        None if strain is None else strain < threshold)
    return Stability(
        software_version=v.get("software_version") or None,
        protocol_name=(protocol or {}).get("preset"), protocol=protocol,
        temperature=quantity(v.get("temperature_K"), "K"),
        pressure=quantity(v.get("pressure_atm"), "atm"),
        timestep=quantity(v.get("timestep_fs"), "fs"),
        steps=v.get("steps"),
        supercell=list(v["supercell"]) if v.get("supercell") else None,
        strain_formula=(protocol or {}).get("strain_formula"),
        strain=quantity(strain, DIMENSIONLESS, sem,
                        f"standard error over {v.get('replicas') or len(replicas or [])} "
                        "replicas" if sem is not None else None),
        strain_std=quantity(std, DIMENSIONLESS),
        strain_sem=quantity(sem, DIMENSIONLESS),
        strain_replicas=replicas,
        replicas=v.get("replicas"),
        strain_last_frame=quantity(v.get("strain_last_frame"), DIMENSIONLESS),
        strain_window_std=quantity(v.get("strain_sample_std"), DIMENSIONLESS),
        volume_change=quantity(v.get("volume_change"), DIMENSIONLESS),
        stable_strain=quantity(threshold, DIMENSIONLESS),
        stable=stable, status=v.get("status"), reason=v.get("reason"))


def validity_block(doc: dict[str, Any], structure: Structure, geometry: str,
                   charges: Charges | None, stable: bool | None) -> Validity:
    from mofgen.chemistry.screen import CHECKS, screen_structure
    from mofgen.sanity import check_structure

    screen = screen_structure(structure)
    failed = {f.check: f for f in screen.failures}
    checks = [Check(check=name, source="mofgen.chemistry.screen", passed=name not in failed,
                    value=failed[name].value if name in failed else None,
                    threshold=failed[name].threshold if name in failed else None,
                    detail=failed[name].detail if name in failed else None)
              for name in CHECKS]
    sanity = check_structure(structure)
    issues = {i.check: i for i in sanity.issues}
    for name in ("volume", "density", "min_distance"):
        issue = issues.pop(name, None)
        checks.append(Check(check=name, source="mofgen.sanity", passed=issue is None,
                            value=None if issue is None or math.isnan(issue.value)
                            else issue.value,
                            threshold=None if issue is None else issue.limit,
                            detail=None if issue is None else issue.detail))
    for issue in issues.values():  # lattice, coordinates, elements: rare, still reported
        checks.append(Check(check=issue.check, source="mofgen.sanity", passed=False,
                            value=None if math.isnan(issue.value) else issue.value,
                            threshold=issue.limit, detail=issue.detail))
    elements = {el.symbol for el in structure.composition.elements}
    pores = get_path(doc, "simulate.pores") or {}
    return Validity(
        checker="mofgen.chemistry.screen + mofgen.sanity (MOFChecker-style)",
        geometry=geometry,
        has_carbon="C" in elements, has_hydrogen="H" in elements,
        has_metal=any(el.is_metal for el in structure.composition.elements),
        has_atomic_overlaps="overlap" in failed or "min_distance" in
        {c.check for c in checks if not c.passed},
        has_lone_molecule="connectivity" in failed,
        has_bad_coordination="coordination" in failed,
        has_bad_bond_lengths="bond_length" in failed,
        has_bad_bond_angles="bond_angle" in failed,
        is_charge_neutral=None if screen.net_charge is None else "charge" not in failed,
        has_high_charges=None if charges is None else charges.max_abs.value > HIGH_CHARGE_E,
        is_porous=pores.get("accessible") if pores else None,
        is_stable=stable,
        passed=all(c.passed for c in checks), checks=checks)


def lineage_block(doc: dict[str, Any], context: ExportContext) -> Lineage:
    linkers = doc.get("linkers") or []
    version = next((lk.get("model_version") for lk in linkers if lk.get("model_version")),
                   None)
    software: dict[str, set[str]] = {}
    for entry in doc.get("history") or []:
        for name, value in (entry.get("versions") or {}).items():
            software.setdefault(name, set()).add(str(value))
    generated = next((h for h in doc.get("history") or [] if h.get("to") == "generated"),
                     None)
    retrained = list(doc.get("retrain_versions") or [])
    if get_path(doc, "retrain.model_version"):
        retrained.append(get_path(doc, "retrain.model_version"))
    created = doc.get("created_at")
    return Lineage(
        generator_model_version=version,
        generator_model_lineage=context.model_lineage(version),
        mofgen_version=((generated or {}).get("versions") or {}).get("mofgen"),
        node=doc.get("node"),
        parent_linkers=[ParentLinker(smiles=lk["smiles"], linker_id=lk.get("linker_id"),
                                     anchor=lk.get("anchor"),
                                     model_version=lk.get("model_version"))
                        for lk in linkers],
        retrain_versions=list(dict.fromkeys(retrained)),
        software_versions={k: sorted(v) for k, v in sorted(software.items())},
        created_at=created.isoformat() if hasattr(created, "isoformat") else created)


def mof_record(doc: dict[str, Any], context: ExportContext, cif_file: str) -> MofRecord:
    """The record of one MOF document (``cif_file``: its CIF's path in the export)."""
    from mofgen.documents import as_utc

    generated = Structure.from_dict(doc["structure"])
    structure, geometry = _published(doc)
    digest = content_hash(generated)
    settings = context.campaign.config.settings
    charges = charges_block(doc, structure)
    stability = stability_block(doc, settings)
    doc = {**doc, "created_at": as_utc(doc.get("created_at"))}
    return MofRecord(
        id=content_id(digest), release=context.release, licence=context.licence,
        content_hash=ContentHash(hashed="generated", value=digest),
        published_structure_hash=digest if geometry == "generated"
        else content_hash(structure),
        identity_hash=get_path(doc, "identifiers.structure_hash"),
        source_id=str(doc["_id"]), campaign=doc["campaign"], kind=doc.get("kind", "mof"),
        state=doc["state"], formula=get_path(doc, "identifiers.formula")
        or structure.composition.reduced_formula,
        n_sites=len(structure), published_geometry=geometry, cif_file=cif_file,
        charges=charges, pores=pores_block(doc),
        adsorption=adsorption_block(doc, digest, settings, charges),
        stability=stability,
        validity=validity_block(doc, structure, geometry, charges,
                                None if stability is None else stability.stable),
        lineage=lineage_block(doc, context))


def provider_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """OPTIMADE provider fields beyond the original three (units in the names); the
    writer drops ``None`` values."""
    pores = get_path(doc, "simulate.pores") or {}
    adsorb = doc.get("adsorb") or {}
    return {
        "record_id": content_id(content_hash(Structure.from_dict(doc["structure"]))),
        "charge_method": get_path(doc, "simulate.charges.method"),
        "probe_radius_A": pores.get("probe_radius_A"),
        "lcd_A": pores.get("lcd_A"),
        "pld_A": pores.get("pld_A"),
        "asa_m2_per_g": pores.get("asa_m2_per_g"),
        "void_fraction": pores.get("void_fraction"),
        "pore_volume_cm3_per_g": pores.get("pore_volume_cm3_per_g"),
        "co2_uptake_error_mol_per_kg": adsorb.get("co2_uptake_error"),
        "adsorption_temperature_K": adsorb.get("temperature_K"),
        "adsorption_pressure_bar": adsorb.get("pressure_bar"),
        "strain_sem": get_path(doc, "validate.strain_sem"),
        "generator_model_version": next((lk.get("model_version") for lk in
                                         doc.get("linkers") or [] if lk.get("model_version")),
                                        None),
    }


__all__ = ["HIGH_CHARGE_E", "RECORD_SCHEMA", "MofRecord", "mof_record", "provider_fields"]
