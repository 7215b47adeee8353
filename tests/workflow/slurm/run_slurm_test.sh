#!/usr/bin/env bash
# End-to-end test of the SLURM profile on a real one-node cluster on localhost.
#
#   sudo tests/workflow/slurm/run_slurm_test.sh [WORKDIR]       (needs root; Debian/Ubuntu)
#
# 1. installs slurmctld, slurmd, slurm-client and munge from apt unless already present;
# 2. tears down any cluster a previous run left, writes slurm.conf for this host (no cgroups,
#    no accounting, MinJobAge large so squeue still reports finished jobs), starts munged,
#    slurmctld and slurmd without systemd, and waits until the node is idle;
# 3. runs a tiny slice of the grid through workflow/profiles/slurm, in WORKDIR (a temporary
#    folder by default), so the user's results/ and figures/ are never touched, and checks
#    that every file arrived and that a second run has nothing to do;
# 4. cancels the jobs and stops the daemons by PID, whatever happened.
#
# Environment: PPS_SLURM_TIMEOUT (seconds for the workflow, default 900),
#              PPS_SLURM_KEEP=1 leaves the cluster running (for debugging).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/pps-slurm-test.XXXXXX)}"
STATE=/tmp/pps-slurm-cluster          # configs, pid files, logs, spool of the test cluster
TIMEOUT="${PPS_SLURM_TIMEOUT:-900}"
PARTITION=ppstest
log() { printf '[slurm-test %(%H:%M:%S)T] %s\n' -1 "$*"; }

if [[ $EUID -ne 0 ]]; then
    echo "run_slurm_test.sh: needs root (it installs packages and starts slurm daemons)" >&2
    exit 2
fi

# one test cluster per machine: a second invocation waits instead of tearing this one down
exec 9>/tmp/pps-slurm-test.lock
flock -w "$TIMEOUT" 9 || { log "another SLURM test holds /tmp/pps-slurm-test.lock"; exit 1; }

# ---------------------------------------------------------------- 1. install
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sbatch >/dev/null; then
    log "installing slurm and munge from apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# ---------------------------------------------------------------- 2. cluster
stop_cluster() {
    if command -v scancel >/dev/null && [[ -f "$STATE/slurmctld.pid" ]]; then
        scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        sleep 1
    fi
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/munge/run/munged.pid"; do
        if [[ -f "$pidfile" ]]; then
            local pid
            pid="$(cat "$pidfile")"
            if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$pid" 2>/dev/null || true
            fi
            rm -f "$pidfile"
        fi
    done
}

log "tearing down any leftover test cluster"
stop_cluster
rm -rf "$STATE"
mkdir -p "$STATE"/{spool/ctld,spool/d,log,munge/run,munge/lib,munge/log}

NODE="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(awk '/MemTotal/ {print int($2/1024*0.9)}' /proc/meminfo)"

# munge: its own key and socket under $STATE, run as the munge user (munged refuses root)
id munge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin munge
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$STATE/munge"
chmod 755 "$STATE/munge"
chmod 700 "$STATE/munge/lib" "$STATE/munge/log"
chmod 755 "$STATE/munge/run"
chmod 400 "$STATE/munge/munge.key"
SOCKET="$STATE/munge/run/munge.socket.2"

# Slurm finds its config at /etc/slurm/slurm.conf: inside a job the executor plugin strips
# SLURM_* variables (SLURM_CONF too) before it calls srun, so a private path is not enough.
# Refuse to overwrite a slurm.conf that is not ours (this may be a real cluster node).
CONF=/etc/slurm/slurm.conf
MARKER="# pps-bench one-node test cluster (tests/workflow/slurm/run_slurm_test.sh)"
if [[ -e "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
    log "$CONF exists and is not the test cluster's: refusing to touch a real Slurm installation"
    exit 2
fi
mkdir -p /etc/slurm
cat >"$CONF" <<EOF
$MARKER
ClusterName=ppstest
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MpiDefault=none
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=$PARTITION Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$CONF"

cleanup() {
    local rc=$?
    if [[ "${PPS_SLURM_KEEP:-0}" == 1 ]]; then
        log "leaving the cluster running (SLURM_CONF=$SLURM_CONF)"
    else
        log "stopping the test cluster"
        stop_cluster
        grep -qF "$MARKER" "$CONF" 2>/dev/null && rm -f "$CONF"
    fi
    if [[ $rc -ne 0 ]]; then
        log "FAILED (exit $rc); daemon logs in $STATE/log, workflow in $WORK"
        tail -n 20 "$STATE"/log/*.log 2>/dev/null || true
    fi
    exit $rc
}
trap cleanup EXIT

log "starting munged, slurmctld, slurmd on $NODE ($CPUS CPUs, $MEM_MB MB)"
runuser -u munge -- /usr/sbin/munged --key-file="$STATE/munge/munge.key" --socket="$SOCKET" \
    --pid-file="$STATE/munge/run/munged.pid" --log-file="$STATE/munge/log/munged.log" \
    --seed-file="$STATE/munge/lib/munged.seed"
for _ in $(seq 50); do [[ -S "$SOCKET" ]] && break; sleep 0.1; done
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

for i in $(seq 60); do
    state="$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1 || true)"
    [[ "$state" == idle* ]] && break
    if [[ $i -eq 60 ]]; then log "node never became idle (state: '$state')"; exit 1; fi
    sleep 1
done
log "cluster up: $(sinfo -h -o '%P %T %c' | tr '\n' ' ')"

# ---------------------------------------------------------------- 3. the workflow
# One baseline and one PPS run on 3m, a few hundred steps each, then collect/stats/plot:
# three waves of jobs through sbatch. The partition is chosen on the command line, as a
# site would, to show the profile needs no edit.
cd "$REPO"
SLICE=(
    --config "results_dir=results" "figures_dir=figures" "seeds=[0]" "methods=[qmix,a-pps]"
    "intervals=[50]"
    "run={t_max: 600, eval_interval: 300, eval_episodes: 2, batch_size: 4, n_envs: 2, checkpoint_interval: 300}"
)
SMK=(snakemake --snakefile "$REPO/Snakefile" --directory "$WORK" --profile "$REPO/workflow/profiles/slurm"
     --default-resources "slurm_partition=$PARTITION" --slurm-init-seconds-before-status-checks 2
     --slurm-logdir "$WORK/slurm_logs" --jobs 8)

log "running the workflow through the SLURM profile in $WORK (timeout ${TIMEOUT}s)"
start=$(date +%s)
timeout -k 30 "$TIMEOUT" "${SMK[@]}" all "${SLICE[@]}"
log "workflow finished in $(( $(date +%s) - start )) s"

# every file is there, each job really went through SLURM into our partition
for f in results/curves.csv results/final.csv results/stats.csv results/tables/stats.md \
         figures/learning_curves.png figures/learning_curves.pdf \
         results/runs/smax/3m/qmix/-/seed0/metrics.csv results/runs/smax/3m/a-pps/50/seed0/run.json; do
    [[ -s "$WORK/$f" ]] || { log "missing: $f"; exit 1; }
done
jobs_seen="$(squeue -h -t all -p "$PARTITION" -o '%i %j %T' | wc -l)"
completed="$(squeue -h -t COMPLETED -p "$PARTITION" -o '%i' | wc -l)"
log "jobs in partition $PARTITION: $jobs_seen, completed: $completed"
(( completed >= 5 )) || { log "expected >= 5 completed jobs (2 runs, collect, stats, plot)"; exit 1; }

# a second run has nothing to do
again="$(timeout -k 10 300 "${SMK[@]}" all "${SLICE[@]}" 2>&1)"
grep -q "Nothing to be done" <<<"$again" || { echo "$again"; log "second run was not a no-op"; exit 1; }
log "PASSED"
