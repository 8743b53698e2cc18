#!/usr/bin/env bash
# Single-node SLURM cluster for tests: `cluster.sh start|stop|env`.
# Installs slurm-wlm and munge from Debian when missing, runs munged, slurmctld and slurmd
# as root with a config under $SENT_SLURM_DIR, and on stop kills only the pids it recorded.
set -euo pipefail
STATE=${SENT_SLURM_DIR:-/tmp/sent-slurm}
CONF=$STATE/slurm.conf

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p "$STATE"/{spool,ctld,log,munge}
  cat > "$CONF" <<CONF
ClusterName=sent-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort=${SENT_SLURMCTLD_PORT:-16817}
SlurmdPort=${SENT_SLURMD_PORT:-16818}
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
DefMemPerCPU=1024
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  install_packages
  write_config
  local sock=$STATE/munge/munge.socket
  if [ ! -S "$sock" ]; then
    [ -s /etc/munge/munge.key ] || mungekey --create --force >/dev/null 2>&1 || \
      dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chmod 600 /etc/munge/munge.key
    munged --force --socket="$sock" --pid-file="$STATE/munged.pid" \
      --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/seed"
  fi
  # slurm's auth plugin finds munged through this variable-free default; point it at ours.
  echo "AuthInfo=socket=$sock" >> "$CONF"
  export SLURM_CONF=$CONF
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  echo "cluster.sh: the SLURM node did not become idle; see $STATE/log" >&2
  return 1
}

stop() {
  for name in slurmd slurmctld munged; do
    local pidfile=$STATE/$name.pid
    if [ -s "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
