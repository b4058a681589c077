#!/usr/bin/env bash
# Single-node local Slurm cluster for tests and CI (Debian, run as root).
#
#   slurm/local-cluster.sh start    install packages if missing, start munged/slurmctld/slurmd,
#                                   wait for the node to be idle, print env exports on stdout
#   slurm/local-cluster.sh stop     cancel all jobs, stop the daemons, remove the state dir
#   slurm/local-cluster.sh status   sinfo + squeue (exit 1 if not running)
#   slurm/local-cluster.sh env      print the env exports: eval "$(slurm/local-cluster.sh env)"
#
# Environment overrides:
#   SITV_SLURM_DIR        state dir (config, state, spool, logs, bin/sacct)   default /tmp/sitv-slurm
#   SITV_SLURM_PARTITION  partition name                                       default debug
#   SITV_SLURM_CPUS       CPUs advertised by the node (may exceed the real count) default: slurmd -C
#   SITV_SLURM_PORT       slurmctld port; slurmd uses PORT+1                    default 6817
#   SITV_SLURM_KILLWAIT   seconds between SIGTERM and SIGKILL on cancel/timeout  default 5
#   SITV_SLURM_MINJOBAGE  seconds finished jobs stay in slurmctld memory     default 300
#   SITV_SLURM_CRED_EXPIRE seconds a requeued job waits before restarting  default 10
#   SITV_SLURM_TIMEOUT    seconds to wait for the node to become idle          default 30
#   SITV_SLURM_FIRST_JOBID first job id                     default: derived from the clock
#
# Only messages go to stderr; stdout of start/env is exactly the export lines.
set -euo pipefail

DIR="${SITV_SLURM_DIR:-/tmp/sitv-slurm}"
PARTITION="${SITV_SLURM_PARTITION:-debug}"
PORT="${SITV_SLURM_PORT:-6817}"
KILLWAIT="${SITV_SLURM_KILLWAIT:-5}"
MINJOBAGE="${SITV_SLURM_MINJOBAGE:-300}"
CRED_EXPIRE="${SITV_SLURM_CRED_EXPIRE:-10}"
TIMEOUT="${SITV_SLURM_TIMEOUT:-30}"
# Default: tenths of seconds since the epoch, modulo 60M (below Slurm's MaxJobId of 67043328),
# so that a restarted cluster does not hand out the ids of the previous one again.
FIRST_JOBID="${SITV_SLURM_FIRST_JOBID:-$(( $(date +%s%1N) % 60000000 + 1 ))}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF="$DIR/etc/slurm.conf"
BIN="$DIR/bin"
MARKER="$DIR/.sitv-slurm"
NODE="$(hostname -s)"
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { echo "[local-cluster] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

print_env() {
    printf 'export SLURM_CONF=%q\n' "$CONF"
    printf 'export PATH=%q:"$PATH"\n' "$BIN"
}

# Slurm commands below must use our config whatever the caller's environment says.
export SLURM_CONF="$CONF"

proc_alive() {  # proc_alive PID: running and not a zombie (a container's PID 1 may not reap)
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

pid_alive() {  # pid_alive FILE: the pid in FILE is a live process
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid"
}

ctld_pidfile() { echo "$DIR/run/slurmctld.pid"; }
slurmd_pidfile() { echo "$DIR/run/slurmd.pid"; }

node_state() { timeout 5 sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null | head -n1 || true; }

running() {  # both daemons alive and the controller answers
    pid_alive "$(ctld_pidfile)" && pid_alive "$(slurmd_pidfile)" \
        && timeout 5 scontrol ping >/dev/null 2>&1
}

dump_logs() {
    local f
    for f in "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" /var/log/munge/munged.log; do
        [[ -f "$f" ]] || continue
        log "---- last lines of $f ----"
        tail -n 30 "$f" >&2 || true
    done
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    [[ $(id -u) -eq 0 ]] || die "packages ${missing[*]} missing and not running as root"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    munge_ok && return 0
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            create-munge-key -f
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged --force 9>&-
    touch "$DIR/run/munged.started"   # so that stop only stops a munged we started
    local i
    for i in $(seq 50); do munge_ok && return 0; sleep 0.1; done
    dump_logs
    die "munged did not come up"
}

stop_munge() {
    [[ -f "$DIR/run/munged.started" ]] || return 0
    local pidf=/run/munge/munged.pid pid i
    pid_alive "$pidf" || return 0
    pid="$(cat "$pidf")"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do proc_alive "$pid" || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

node_hw() {  # "CPUs=.. Boards=.. ..." and RealMemory for the NodeName line
    local line mem cpus
    line="$(slurmd -C | head -n1)"
    mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$line")"
    mem=$(( mem * 9 / 10 ))                # a bit below what slurmd sees, or the node is drained
    (( mem >= 1024 )) || mem=1024
    if [[ -n "${SITV_SLURM_CPUS:-}" ]]; then
        cpus="CPUs=$SITV_SLURM_CPUS"      # SlurmdParameters=config_overrides makes slurmd accept it
    else
        cpus="$(sed -e 's/^NodeName=[^ ]* //' -e 's/ RealMemory=.*//' <<<"$line")"
    fi
    echo "$cpus RealMemory=$mem"
}

write_conf() {
    cat >"$CONF" <<EOF
# Generated by slurm/local-cluster.sh; do not edit (rewritten on every start).
ClusterName=sitv
SlurmctldHost=${NODE}(127.0.0.1)
SlurmctldPort=${PORT}
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=cred_expire=${CRED_EXPIRE}
CredType=cred/munge
StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool
SlurmctldPidFile=${DIR}/run/slurmctld.pid
SlurmdPidFile=${DIR}/run/slurmd.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
# CPUs are the only consumable: memory requests are checked against the node size but
# do not limit how many jobs run at once (and nothing enforces them).
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
# No accounting database: the sacct on PATH is slurm/sacct-standin, which reads
# scontrol and the job completion log below.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=${DIR}/log/jobcomp.log
# Finished jobs stay visible to scontrol/squeue this many seconds (then only in the jobcomp log).
MinJobAge=${MINJOBAGE}
KillWait=${KILLWAIT}
InactiveLimit=0
JobRequeue=1
ReturnToService=2
SlurmdTimeout=60
MaxArraySize=10001
# Job ids differ between cluster starts (see README: submitit folders are keyed by job id).
FirstJobId=${FIRST_JOBID}
NodeName=${NODE} NodeAddr=127.0.0.1 $(node_hw) State=UNKNOWN
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

cmd_start() {
    if running; then
        log "already running (state dir $DIR)"
        print_env
        return 0
    fi
    if [[ -f "$MARKER" ]]; then
        log "stale or half-running cluster in $DIR: stopping it first"
        cmd_stop
    elif [[ -e "$DIR" ]] && [[ -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
        die "$DIR exists, is not empty and was not created by this script"
    fi
    install_packages
    install -d -m 0755 "$DIR" "$DIR/etc" "$DIR/state" "$DIR/spool" "$DIR/run" "$DIR/log" "$BIN"
    touch "$MARKER"
    install -m 0755 "$HERE/sacct-standin" "$BIN/sacct"
    write_conf
    start_munge

    local t0=$SECONDS
    slurmctld -f "$CONF" 9>&- || { dump_logs; die "slurmctld failed to start"; }
    slurmd -f "$CONF" -N "$NODE" 9>&- || { dump_logs; die "slurmd failed to start"; }

    local st=""
    while (( SECONDS - t0 < TIMEOUT )); do
        st="$(node_state)"
        case "$st" in
            idle) break ;;
            down*|drain*|drng*|fail*)
                # Should not happen with ReturnToService=2; try once to bring it back.
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.2
    done
    if [[ "$st" != idle ]]; then
        log "node $NODE not idle after ${TIMEOUT}s (state: '${st:-no answer}')"
        timeout 5 sinfo -N -l >&2 2>&1 || true
        dump_logs
        die "cluster did not come up; see logs in $DIR/log"
    fi
    log "up: node $NODE idle, partition $PARTITION (state dir $DIR)"
    print_env
}

wait_pid_gone() {  # wait_pid_gone PID SECONDS
    local i
    for i in $(seq $(( $2 * 10 ))); do proc_alive "$1" || return 0; sleep 0.1; done
    return 1
}

stop_daemons() {  # stop_daemons PIDFILE...: SIGTERM all, wait up to 10 s, then SIGKILL
    local f pids=() pid
    for f in "$@"; do
        pid_alive "$f" && pids+=("$(cat "$f")")
    done
    [[ ${#pids[@]} -eq 0 ]] && return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do
        wait_pid_gone "$pid" 10 && continue
        log "pid $pid did not stop in 10s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_gone "$pid" 2 || true
    done
}

cmd_stop() {
    if [[ ! -f "$MARKER" ]]; then
        log "not running (no state dir $DIR)"
        return 0
    fi
    if running; then
        local ids
        ids="$(timeout 5 squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ' || true)"
        if [[ -n "${ids// /}" ]]; then
            log "cancelling jobs: $ids"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            local i
            for i in $(seq $(( (KILLWAIT + 5) * 5 ))); do
                [[ -z "$(timeout 5 squeue -h -t R,CG,CF,S -o '%A' 2>/dev/null || true)" ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_daemons "$(slurmd_pidfile)" "$(ctld_pidfile)"
    stop_munge
    if [[ -f "$MARKER" && "$DIR" != "/" ]]; then
        rm -rf -- "$DIR"
    fi
    log "stopped"
}

cmd_status() {
    if ! running; then
        log "not running (state dir $DIR)"
        return 1
    fi
    sinfo
    echo
    squeue
}

lock() {  # serialize concurrent start/stop (e.g. several pytest workers)
    exec 9>"${DIR%/}.lock"
    flock -w 120 9 || die "could not lock ${DIR%/}.lock within 120s"
}

case "${1:-}" in
    start) lock; cmd_start ;;
    stop) lock; cmd_stop ;;
    status) cmd_status ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
