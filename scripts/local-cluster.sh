#!/usr/bin/env bash
# A cluster on this one machine, for the cluster tests and for trying the README's
# "Run on a cluster" commands: a MongoDB-wire-protocol server (SecantusDB, GPL-2.0, a
# test-only dependency) and SLURM (Debian's slurm-wlm: munged, slurmctld, slurmd).
#
#   bash scripts/local-cluster.sh up     # installs what is missing, starts; last line: the URI
#   bash scripts/local-cluster.sh down   # stops everything it started (idempotent)
#
# Environment: MOFGEN_CLUSTER_DIR (state, default /var/tmp/mofgen-cluster),
# MOFGEN_CLUSTER_PORT (default 27217), PYTHON (default python3). Needs root (or sudo) for
# SLURM and munge. /etc/slurm/slurm.conf is written only if absent or written by this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DIR="${MOFGEN_CLUSTER_DIR:-/var/tmp/mofgen-cluster}"
PORT="${MOFGEN_CLUSTER_PORT:-27217}"
SECANTUS="secantusdb==0.7.0b3"
MARK="# written by mofgen scripts/local-cluster.sh"
CONF=/etc/slurm/slurm.conf
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

say() { echo "local-cluster: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # stop the process named in a pid file, wait for it, remove the file
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        $SUDO kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid" 2>/dev/null || true
    fi
    $SUDO rm -f "$pidfile"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    say "$what did not come up; see $DIR/*.log"; return 1
}

server_up() {
    "$PY" -c "import secantus" 2>/dev/null || "$PY" -m pip install --quiet "$SECANTUS"
    mkdir -p "$DIR/db"
    if ! alive "$DIR/secantus.pid"; then
        nohup "$PY" -m secantus --host 127.0.0.1 --port "$PORT" --storage-path "$DIR/db" \
            --log-level WARNING >"$DIR/secantus.log" 2>&1 </dev/null &
        echo $! >"$DIR/secantus.pid"
    fi
    wait_for 60 "the database server" "$PY" -c \
        "import pymongo; pymongo.MongoClient('mongodb://127.0.0.1:$PORT/', \
serverSelectionTimeoutMS=500).admin.command('ping')"
}

slurm_install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged \
        >/dev/null && command -v sbatch >/dev/null && return 0
    say "installing slurm-wlm and munge (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
}

slurm_config() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    if [ -f "$CONF" ] && ! head -1 "$CONF" | grep -qF "$MARK"; then
        say "$CONF exists and was not written by this script: using it as it is"
        return 0
    fi
    $SUDO mkdir -p /etc/slurm "$DIR/slurmctld" "$DIR/slurmd"
    $SUDO tee "$CONF" >/dev/null <<EOF
$MARK
# One machine: controller and the only compute node are this host.
ClusterName=mofgen-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/slurmctld
SlurmdSpoolDir=$DIR/slurmd
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=2048
EOF
}

slurm_up() {
    slurm_install
    slurm_config
    $SUDO mkdir -p /run/munge
    $SUDO chown munge:munge /run/munge
    if ! $SUDO test -s /etc/munge/munge.key; then
        $SUDO mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
            || $SUDO create-munge-key -f
        $SUDO chown munge:munge /etc/munge/munge.key; $SUDO chmod 400 /etc/munge/munge.key
    fi
    if ! alive "$DIR/munged.pid"; then
        $SUDO runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
            --force >"$DIR/munged.log" 2>&1
        wait_for 20 munged test -s /run/munge/munged.pid
        $SUDO cp /run/munge/munged.pid "$DIR/munged.pid"
    fi
    wait_for 20 munge sh -c "munge -n | unmunge"
    alive "$DIR/slurmctld.pid" || $SUDO slurmctld
    wait_for 30 slurmctld scontrol ping
    alive "$DIR/slurmd.pid" || $SUDO slurmd
    wait_for 60 "the SLURM node" sh -c \
        "sinfo -h -N -o %t | grep -Eq '^(idle|mix|alloc)'"
}

up() {
    mkdir -p "$DIR"
    server_up
    slurm_up
    say "database: $DIR/db; SLURM: $(sinfo -h -o '%P %D %t' | head -1)"
    echo "mongodb://127.0.0.1:$PORT/"
}

down() {
    if command -v scancel >/dev/null && alive "$DIR/slurmctld.pid"; then
        $SUDO scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
    fi
    stop_pidfile "$DIR/slurmd.pid"
    stop_pidfile "$DIR/slurmctld.pid"
    stop_pidfile "$DIR/munged.pid"
    stop_pidfile "$DIR/secantus.pid"
    say "stopped (data kept in $DIR)"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
