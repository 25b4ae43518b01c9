"""Chemistry of the generate stage: linker processing, anchors, assembly, screening.

The generate jobs call only the names re-exported here::

    linker = process_linker(symbols, coords, "COO")    # or process_smiles("OC(=O)c1...")
    mof = assemble_mof([linker], pillar=pillar)         # Zn paddle-wheel, pcu
    result = screen_structure(mof.structure)            # .passed, .failures
    key = structure_hash(mof.structure)                 # and linker_identity(...)
"""

from mofgen.chemistry.anchors import Anchor, detect_anchors, normalise_anchor
from mofgen.chemistry.assembly import assemble_mof
from mofgen.chemistry.framework import AssembledMOF, AssemblyError
from mofgen.chemistry.identity import (
    canonical_smiles,
    is_near_duplicate,
    linker_identity,
    near_duplicates,
    structure_hash,
)
from mofgen.chemistry.linkers import (
    LinkerRejected,
    LinkerRejection,
    ProcessedLinker,
    load_linker,
    process_linker,
    process_smiles,
    try_process_linker,
)
from mofgen.chemistry.nodes import get_node, node_names
from mofgen.chemistry.screen import ScreenFailure, ScreenResult, screen_structure

__all__ = [
    "Anchor", "AssembledMOF", "AssemblyError", "LinkerRejected", "LinkerRejection",
    "ProcessedLinker", "ScreenFailure", "ScreenResult", "assemble_mof", "canonical_smiles",
    "detect_anchors", "get_node", "is_near_duplicate", "linker_identity", "load_linker",
    "near_duplicates", "node_names", "normalise_anchor", "process_linker", "process_smiles",
    "screen_structure", "structure_hash", "try_process_linker",
]
