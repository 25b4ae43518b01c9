"""Open-database export of a campaign: CIF files, JSON Lines, OPTIMADE entries, metadata.

``export_campaign(db, "demo", "out/")`` writes a self-describing directory::

    out/README.md            what this is, how it was made, licence, file checksums
    out/metadata.json        the same as data: campaign config, counts, licence, files
    out/structures.jsonl     one StructureDoc per line (every property and provenance)
    out/cif/<id>.cif         final geometry (relaxed when simulated), `_atom_site_charge`
    out/optimade.jsonl       OPTIMADE JSON Lines: header line, then one structures entry
                             per line, each validated with optimade-python-tools' models
    out/records.jsonl        one database record per structure for kinds that have them
                             (MOF: charges, pores, adsorption, stability, validity,
                             lineage, content-hash ID), every field in the README
    out/<kind's files>       e.g. references.json: the phases that define a crystal hull

The campaign's kind (:mod:`mofgen.kinds`) adds its provider fields to the OPTIMADE
entries, its units and facts to the metadata, its files and its README section.
Re-exporting the same data gives byte-identical files (see :mod:`.writer`).

Modules: :mod:`.writer` (selection, streaming, files, metadata), :mod:`.cif`,
:mod:`.optimade`, :mod:`.readme`, :mod:`.record` (content hash, quantities, field
glossary) and :mod:`.queries` (maggma/pymongo query helpers).
"""

from mofgen.export.cif import cif_text, final_structure
from mofgen.export.optimade import OPTIMADE_API_VERSION, PROVIDER_PREFIX, optimade_entry
from mofgen.export.readme import readme
from mofgen.export.writer import (
    DEFAULT_LICENCE,
    FORMATS,
    ExportReport,
    document_record,
    export_campaign,
    iter_documents,
    parse_formats,
    parse_query,
    selection_filter,
)

__all__ = [
    "DEFAULT_LICENCE", "FORMATS", "OPTIMADE_API_VERSION", "PROVIDER_PREFIX", "ExportReport",
    "cif_text", "document_record", "export_campaign", "final_structure", "iter_documents",
    "optimade_entry", "parse_formats", "parse_query", "readme", "selection_filter",
]
