#!/usr/bin/env bash
# Installs everything mofgen needs on a fresh Debian machine with CPython 3.11.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

# torch first, pinned: a CPU build of 2.13.0 is in the local wheel cache; any looser
# spec pulled in by a dependency would download several GB of CUDA wheels.
"$PY" -m pip install --quiet "torch==2.13.0"
"$PY" -m pip install --quiet -e ".[all]"
"$PY" -m mofgen.cli --version
