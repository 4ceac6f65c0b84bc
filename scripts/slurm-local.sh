#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for rnnlab's Slurm tests and for trying
# `rnnlab sweep --slurm` without a cluster. Debian/Ubuntu packages (slurmctld, slurmd,
# slurm-client, munge), started as plain daemons (no systemd), run as root.
#
#   scripts/slurm-local.sh start     install if needed, configure, start, wait until the node is idle
#   scripts/slurm-local.sh stop      stop the three daemons (by their pid files)
#   scripts/slurm-local.sh status    sinfo
#
# Environment: SLURM_DIR (state, spool, logs; default /tmp/rnnlab-slurm), MAX_ARRAY_SIZE
# (default 1001, Slurm's own default; the tests use a small one to force chunking).
# Two partitions: `debug` (default; its jobs are requeued when preempted) and `high`
# (preempts `debug`). Measured recipe and pitfalls: docs/cluster.md.
set -euo pipefail
SLURM_DIR=${SLURM_DIR:-/tmp/rnnlab-slurm}
MAX_ARRAY_SIZE=${MAX_ARRAY_SIZE:-1001}
CONF=/etc/slurm/slurm.conf

need_root() { [ "$(id -u)" = 0 ] || { echo "slurm-local.sh: run as root (it installs packages and starts daemons)" >&2; exit 1; }; }

start() {
  need_root
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  fi
  # munge: Debian's postinst writes a key; make one if it is missing.
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  # No systemd tmpfiles here: /run/munge by hand, munged as user munge.
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  mkdir -p "$SLURM_DIR"/{state,spool,log} /etc/slurm
  # CPUs must not exceed the real count, or the node is drained as invalid.
  local ncpu; ncpu=$(nproc)
  cat > "$CONF" <<CONF
# Written by rnnlab scripts/slurm-local.sh: one node, no systemd, no cgroups, no accounting.
ClusterName=rnnlab
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MaxArraySize=$MAX_ARRAY_SIZE
MinJobAge=300
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
NodeName=localhost CPUs=$ncpu State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10
PartitionName=high Nodes=ALL Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
CONF
  pgrep -F "$SLURM_DIR/slurmctld.pid" >/dev/null 2>&1 || slurmctld
  pgrep -F "$SLURM_DIR/slurmd.pid" >/dev/null 2>&1 || slurmd
  local state=""
  for _ in $(seq 150); do
    state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    echo "slurm-local.sh: the node is not idle ('$state')" >&2
    tail -20 "$SLURM_DIR"/log/*.log >&2 || true
    exit 1
  fi
  echo "slurm up: $(sinfo -h -o '%P %T %N' | tr '\n' ' ')(MaxArraySize=$MAX_ARRAY_SIZE, logs in $SLURM_DIR/log)"
}

stop() {
  for f in "$SLURM_DIR/slurmd.pid" "$SLURM_DIR/slurmctld.pid" /run/munge/munged.pid; do
    [ -s "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped pid $pid ($f)"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
