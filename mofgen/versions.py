"""Software versions recorded with every transition, so each number stays reproducible."""

from __future__ import annotations

import functools
import platform
from importlib import metadata

_PACKAGES = ("mofgen", "pymatgen", "fireworks", "jobflow")


@functools.cache
def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or ``None`` (for tool wrappers to record)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
