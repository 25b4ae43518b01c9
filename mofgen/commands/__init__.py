"""Command modules of the mofgen CLI.

Every module in this package exposes ``register(subparsers)``, which adds one or more
sub-commands whose ``func(args) -> int`` runs them. ``mofgen.cli`` discovers the modules,
so adding a command means adding a module here and nothing else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def emit(result: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``result`` as one JSON document (``--json``) or as human-readable text.

    ``result`` may be a pydantic model, a dict or anything JSON-serialisable.
    """
    if hasattr(result, "model_dump"):
        data = result.model_dump(mode="json")
    else:
        data = result
    if as_json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif human is not None:
        print(human(result))
    else:
        print(json.dumps(data, indent=2, default=str))
