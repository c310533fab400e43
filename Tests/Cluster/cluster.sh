#!/usr/bin/env bash
# A Slurm cluster of N "nodes" on one machine, for trying Coordinated across nodes and for the MultiNode tests:
#
#   Tests/Cluster/cluster.sh up [N] [--shared DIR]   start N nodes (default 4); prints the exports a shell needs last:
#                                                    eval "$(Tests/Cluster/cluster.sh up 4)"
#   Tests/Cluster/cluster.sh exec NODE CMD...        run CMD inside a node (node1 .. nodeN)
#   Tests/Cluster/cluster.sh kill-node NODE          the node dies as hardware would: SIGKILL to every process in it
#                                                    (slurmd, slurmstepd, ranks), its /local, /tmp and network gone
#   Tests/Cluster/cluster.sh start-node NODE         a killed node boots again (empty /local) and rejoins Slurm
#   Tests/Cluster/cluster.sh env                     print the exports again
#   Tests/Cluster/cluster.sh down                    stop everything; leaves no namespace, bridge, veth, mount or daemon (only an empty /local)
#
# Each node is its own network, UTS and mount namespace: hostname nodeK, address 198.19.77.K on a bridge (only
# 198.18.0.0/15 is used: traffic stays on this machine), its own slurmd, private tmpfs at /local (node-local scratch),
# /tmp and /dev/shm. Everything else of the machine's file system is the same on every node; the shared directory
# (--shared DIR, default $COORDINATED_CLUSTER_DIR/shared) stands in for the parallel file system. slurmctld and a
# private munged run on the host side, on free ports and with their own socket and key, so a system Slurm or the
# one-node test Slurm (Tests/Slurm) is left alone.
#
# Settings (environment): COORDINATED_CLUSTER_DIR (state, configs, logs; default /var/lib/coordinated-cluster, never
# under /tmp because each node has its own /tmp), COORDINATED_CLUSTER_NAME (prefix of namespaces and interfaces,
# default crd), COORDINATED_CLUSTER_SUBNET (first three octets, default 198.19.77), COORDINATED_GRACE_TIME (low
# partition's GraceTime, default 20), COORDINATED_SLURMD_TIMEOUT (seconds until a dead node is marked down, default 10),
# COORDINATED_NODE_CPUS (CPUs each node claims, default 2; all nodes share this machine's cores).
# Partitions: low (default, preemptable, REQUEUE) and high, both on every node. Needs root. Exit 69 when it cannot start,
# 64 on bad arguments.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${COORDINATED_CLUSTER_DIR:-/var/lib/coordinated-cluster}"
fail() { echo "cluster.sh: error: $*" >&2; exit 69; }
usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
bad() { echo "cluster.sh: $*; see: cluster.sh --help" >&2; exit 64; }

case "$dir" in /tmp|/tmp/*) bad "COORDINATED_CLUSTER_DIR must not be under /tmp: every node has its own /tmp";; esac
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
state="$dir/cluster.env"   # what `up` chose: read by every other command

load() {
  [ -f "$state" ] || { echo "cluster.sh: no cluster in $dir (run: cluster.sh up N)" >&2; exit 69; }
  # shellcheck disable=SC1090
  . "$state"
}

ns() { echo "${name}-$1"; }                      # network namespace of a node
holder_pid() { cat "$dir/run/$1.holder" 2>/dev/null || true; }
node_index() {
  [[ "$1" =~ ^node([1-9][0-9]*)$ ]] && [ "${BASH_REMATCH[1]}" -le "$nodes" ] || bad "no node '$1' (node1 .. node$nodes)"
  echo "${BASH_REMATCH[1]}"
}

# Pids of every process in a network namespace (the node's processes: holder, slurmd, slurmstepd, ranks).
pids_in_netns() {
  local file="/run/netns/$1" want p
  [ -e "$file" ] || return 0
  want="net:[$(stat -L -c %i "$file")]"
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$want" ] && echo "${p#/proc/}"
  done
  return 0
}

# SIGKILL to everything in the node, then its network namespace (and veth) goes. The mount namespace (/local, /tmp,
# /dev/shm) dies with its last process.
kill_node() {
  local netns="$1" pids
  for _ in $(seq 1 50); do
    pids="$(pids_in_netns "$netns")"
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$(pids_in_netns "$netns")" ] || echo "cluster.sh: warning: processes survive in $netns: $(pids_in_netns "$netns")" >&2
  ip netns del "$netns" 2>/dev/null || true
}

# The node's namespaces: network (veth into the bridge), then UTS + mount held by one sleeping process.
start_node() {
  local k="$1" netns host_if peer_if holder
  netns="$(ns "node$k")"; host_if="${name}v$k"; peer_if="${name}p$k"
  ip netns add "$netns" || fail "cannot create network namespace $netns (needs root with CAP_NET_ADMIN and CAP_SYS_ADMIN; an unprivileged container cannot)"
  ip link add "$host_if" type veth peer name "$peer_if"
  ip link set "$peer_if" netns "$netns"
  ip link set "$host_if" master "$bridge" up
  ip -n "$netns" link set "$peer_if" name eth0
  # The same MAC address every time node K boots: the neighbour (ARP) caches of the host and of the other nodes still
  # hold the address of the killed node's interface, and with a new one a restarted node was unreachable from the
  # others for up to ~30 s (srun: "Task launch ... failed on node node3: Communication connection failure").
  ip -n "$netns" link set eth0 address "$(printf '02:cd:00:00:%02x:%02x' $((k / 256)) $((k % 256)))"
  ip -n "$netns" addr add "$subnet.$k/24" dev eth0
  ip -n "$netns" link set eth0 up
  ip -n "$netns" link set lo up
  mkdir -p "$dir/spool/node$k"
  # nsenter, not `ip netns exec`: the latter remounts /sys and slurmd then cannot initialise (docs/MULTINODE.md).
  setsid nsenter --net="/run/netns/$netns" unshare --uts --mount --propagation private \
    sh -c "hostname node$k && mount -t tmpfs -o size=512m,mode=1777 tmpfs /tmp && mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm \
           && mount -t tmpfs -o size=1g,mode=0755 tmpfs /local && touch /local/.node$k && exec sleep infinity" \
    </dev/null >>"$dir/log/node$k.holder.log" 2>&1 &
  holder=$!
  echo "$holder" >"$dir/run/node$k.holder"
  for _ in $(seq 1 100); do
    [ "$(nsenter -t "$holder" --uts hostname 2>/dev/null)" = "node$k" ] \
      && nsenter -t "$holder" --mount test -e "/local/.node$k" 2>/dev/null && break
    kill -0 "$holder" 2>/dev/null || fail "node$k did not start: $(cat "$dir/log/node$k.holder.log")"
    sleep 0.05
  done
  rm -f "$dir/spool/node$k/"*.pid
  in_node "node$k" slurmd -f "$dir/slurm.conf" -N "node$k" </dev/null >>"$dir/log/node$k.holder.log" 2>&1 || fail "slurmd of node$k did not start; see $dir/log/slurmd-node$k.log"
}

in_node() {
  local node="$1" holder; shift
  holder="$(holder_pid "$node")"
  [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null || { echo "cluster.sh: $node is not running (killed? cluster.sh start-node $node)" >&2; return 69; }
  nsenter -t "$holder" --net --uts --mount -- "$@"
}

print_env() {
  cat <<EOF
export SLURM_CONF=$dir/slurm.conf
export COORDINATED_CLUSTER_DIR=$dir
export COORDINATED_SHARED=$shared
export OMPI_MCA_btl=self,vader,tcp
export OMPI_MCA_btl_tcp_if_include=$subnet.0/24
export OMPI_MCA_oob_tcp_if_include=$subnet.0/24
export OMPI_MCA_mpi_yield_when_idle=1
EOF
}

down() {
  if [ -f "$state" ]; then
    load
    if [ -f "$dir/slurm.conf" ] && [ -f "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null; then
      SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --quiet --user=root 2>/dev/null || true
    fi
    local netns link
    for netns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${name}-node[0-9]+$" || true); do
      kill_node "$netns"
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${name}(v[0-9]+|br0)$" || true); do
      ip link del "$link" 2>/dev/null || true
    done
  fi
  rm -f "$dir"/run/node*.holder
  # The host-side daemons by their pid files, even when the state file is gone (a crashed `up`).
  local daemon pid
  for daemon in slurmctld munged; do
    pid="$(cat "$dir/run/$daemon.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/run/$daemon.pid"
  done
  # The host's /local stays (an empty directory): removing it would also unmount /local inside the nodes of every
  # other cluster on this machine (the kernel detaches mounts on a removed directory in all namespaces).
  if [ -f "$dir/run/mounted-local" ]; then umount /local 2>/dev/null || true; fi
  rm -f "$dir/run/mounted-local" "$dir/run/made-local"
  rm -f "$state"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  up)
    nodes=4; shared=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --shared) [ $# -ge 2 ] || bad "--shared needs a directory"; shared="$2"; shift 2 ;;
        [1-9]|[1-9][0-9]) nodes="$1"; shift ;;
        *) bad "unexpected argument '$1'" ;;
      esac
    done
    [ "$nodes" -le 32 ] || bad "at most 32 nodes"
    [ "$(id -u)" -eq 0 ] || fail "the cluster needs root (namespaces, bridge, daemons)."
    if ! "$here/../../scripts/ensure-deps.sh" test >&2; then fail "missing packages; see above (scripts/ensure-deps.sh test)"; fi
    for tool in ip nsenter unshare munged slurmctld slurmd sinfo scontrol ss; do
      command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (apt-get install iproute2 util-linux slurmctld slurmd slurm-client munge)"
    done
    # The nodes run this checkout's mpi-run.sh and apps: a checkout in a node-private directory is invisible to them.
    repo="$(cd "$here/../.." && pwd -P)"
    case "$repo/" in /tmp/*|/dev/shm/*|/local/*)
      fail "this checkout ($repo) is under /tmp, /dev/shm or /local, which every node has its own of: the nodes could not see mpi-run.sh. Clone it elsewhere (e.g. /var/tmp or your home directory)";; esac
    name="${COORDINATED_CLUSTER_NAME:-crd}"
    subnet="${COORDINATED_CLUSTER_SUBNET:-198.19.77}"
    [[ "$name" =~ ^[a-z][a-z0-9]{0,5}$ ]] || bad "COORDINATED_CLUSTER_NAME must be 1-6 lower-case letters/digits"
    [[ "$subnet" =~ ^198\.(18|19)\.[0-9]{1,3}$ ]] || bad "COORDINATED_CLUSTER_SUBNET must be inside 198.18.0.0/15 (e.g. 198.19.77)"
    # Leftovers under the same name (nodes of a crashed run hold /local busy until they are gone), then the rest
    # of an earlier run in the same directory (daemons, state).
    for netns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${name}-node[0-9]+$" || true); do kill_node "$netns"; done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${name}(v[0-9]+|br0)$" || true); do
      ip link del "$link" 2>/dev/null || true
    done
    ( down )
    if ip -o addr show 2>/dev/null | grep -q " inet $subnet\."; then fail "subnet $subnet.0/24 is already in use here (COORDINATED_CLUSTER_SUBNET)"; fi
    bridge="${name}br0"
    shared="${shared:-$dir/shared}"
    case "$shared" in /tmp|/tmp/*|/dev/shm*|/local*) bad "--shared must not be under /tmp, /dev/shm or /local: each node has its own";; esac
    mkdir -p "$shared"; shared="$(cd "$shared" && pwd)"
    rm -rf "$dir/spool" "$dir/state" "$dir/run"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
    chmod 0700 "$dir/munge"
    cat >"$state" <<EOF
name=$name
subnet=$subnet
bridge=$bridge
nodes=$nodes
shared=$shared
EOF
    # Each node mounts its own tmpfs on /local. The host's /local is made a (tiny, empty) mount point too, so that
    # another cluster's `down` cannot remove the directory (rmdir gives EBUSY): its removal would unmount /local in
    # every node, and the ranks would then write node-local files into the host's shared /local (seen here).
    mkdir -p /local
    if ! mountpoint -q /local; then
      mount -t tmpfs -o size=64k,mode=0755 coordinated-local /local || fail "cannot mount a tmpfs on /local (needs root)"
      touch "$dir/run/mounted-local"
    fi

    # The bridge; the host side (slurmctld) is $subnet.254.
    # A failed start takes down what it made; the logs stay in $dir/log.
    trap 'rc=$?; [ "$rc" -eq 0 ] || ( down ) >/dev/null 2>&1; exit "$rc"' EXIT
    ip link add "$bridge" type bridge || fail "cannot create bridge $bridge (needs root with CAP_NET_ADMIN)"
    ip addr add "$subnet.254/24" dev "$bridge"
    ip link set "$bridge" up

    # shellcheck source=Tests/Slurm/slurm-common.sh
    . "$here/../Slurm/slurm-common.sh"
    ctld_port="$(free_port)"; taken="$ctld_port"; slurmd_port="$(free_port)"
    socket="$(start_munged "$dir")"

    grace="${COORDINATED_GRACE_TIME:-20}"
    all="node[1-$nodes]"
    cat >"$dir/slurm.conf" <<EOF
# Namespace cluster written by Tests/Cluster/cluster.sh
ClusterName=coordinated-mn
SlurmctldHost=$(hostname)($subnet.254)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
$(COORDINATED_KILL_WAIT=5 common_conf "$socket")
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/spool/%n/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmdTimeout=${COORDINATED_SLURMD_TIMEOUT:-10}
NodeName=DEFAULT CPUs=${COORDINATED_NODE_CPUS:-2} RealMemory=2000 State=UNKNOWN
EOF
    for k in $(seq 1 "$nodes"); do echo "NodeName=node$k NodeHostname=node$k NodeAddr=$subnet.$k" >>"$dir/slurm.conf"; done
    cat >>"$dir/slurm.conf" <<EOF
PartitionName=low  Nodes=$all Default=YES PriorityTier=1  PreemptMode=REQUEUE GraceTime=$grace MaxTime=INFINITE State=UP
PartitionName=high Nodes=$all Default=NO  PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
EOF
    chmod 0644 "$dir/slurm.conf"
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$dir/slurm.conf" || fail "slurmctld did not start; see $dir/log/slurmctld.log"
    for k in $(seq 1 "$nodes"); do start_node "$k"; done

    for _ in $(seq 1 120); do
      idle="$(sinfo -h -p low -t idle -o %D 2>/dev/null || true)"
      if [ "${idle:-0}" = "$nodes" ]; then
        echo "cluster.sh: $nodes nodes up (node1..node$nodes = $subnet.1..$nodes, controller $subnet.254:$ctld_port), shared $shared, state $dir" >&2
        print_env
        exit 0
      fi
      sleep 0.5
    done
    echo "--- slurmctld.log ---" >&2; tail -n 20 "$dir/log/slurmctld.log" >&2 || true
    sinfo >&2 || true
    fail "not every node became idle within 60 s (idle: ${idle:-0} of $nodes); logs in $dir/log"
    ;;
  exec)
    load; [ $# -ge 2 ] || bad "exec needs a node and a command"
    node_index "$1" >/dev/null; node="$1"; shift
    in_node "$node" "$@"
    ;;
  kill-node)
    load; [ $# -eq 1 ] || bad "kill-node needs a node"
    node_index "$1" >/dev/null
    kill_node "$(ns "$1")"; rm -f "$dir/run/$1.holder"
    echo "cluster.sh: $1 killed" >&2
    ;;
  start-node)
    load; [ $# -eq 1 ] || bad "start-node needs a node"
    k="$(node_index "$1")"
    kill_node "$(ns "$1")"
    start_node "$k"
    SLURM_CONF="$dir/slurm.conf" scontrol update NodeName="$1" State=RESUME 2>/dev/null || true
    echo "cluster.sh: $1 started" >&2
    ;;
  env) load; print_env ;;
  down) down; echo "cluster.sh: down ($dir kept: logs)" >&2 ;;
  -h|--help|help) usage ;;
  *) bad "unknown command '${cmd}'" ;;
esac
