# shellcheck shell=bash
# Sourced by mpi-run.sh: node placement inside a Slurm allocation, and relaunching a step without a dead node
# (docs/SLURM.md, "Relaunch inside the allocation"). Functions only; nothing runs when this file is sourced.
#
# With `-N NODES` in an allocation of more nodes (sbatch -N 5 --no-kill, then mpi-run.sh -N 4 -n 8 ...), the step
# runs on the first NODES living nodes of the job and the others are spares. Ranks are placed block-wise, in the order
# of the step's node list (ranks 0-1 on its first node, 2-3 on the second, ...), through srun's arbitrary
# distribution (SLURM_HOSTFILE), so that a spare can take exactly the place, and the ranks, of a dead node.
# When the step fails and Slurm says that one of its nodes is lost (down, not responding, drained, or gone from the
# job's node list, which shrinks on a node failure with --no-kill), the step is started again at once in the same
# allocation with a spare in the dead node's place; the ranks then restore from the newest checkpoint that survived
# (the runtime chooses the level and prints `restart level: ...`). At most --max-relaunches times; after that, or
# without a spare, the job goes back to the queue (scontrol requeue) as before.

# relaunch_number VALUE: true when VALUE is a plain non-negative integer that fits in bash arithmetic.
relaunch_number() { [[ "$1" =~ ^[0-9]{1,9}$ ]]; }

# relaunch_hosts NODELIST: one host per line, in Slurm's order (node[1-2,4] -> node1 node2 node4).
relaunch_hosts() { [ -n "$1" ] && [ "$1" != "(null)" ] && scontrol show hostnames "$1" 2>/dev/null; }

# relaunch_job_nodes: the job's current node list, one per line (it shrinks when a node of a --no-kill job fails).
relaunch_job_nodes() {
  local show list
  show="$(timeout 10 scontrol show job -o "$SLURM_JOB_ID" 2>/dev/null)" || return 1
  list="$(grep -o ' NodeList=[^ ]*' <<<"$show")"; list="${list#*=}"
  relaunch_hosts "$list"
}

# relaunch_node_states NODE...: "node|state|reason" per node (sinfo's compact state: alloc, idle, down*, drain, ...).
relaunch_node_states() {
  local IFS=,
  timeout 10 sinfo -h -N -n "$*" -o '%N|%t|%E' 2>/dev/null | sort -u
}

# relaunch_unusable STATE: true for a state no step should be started on: not responding (*), down, drained or
# draining, failing, powered down, rebooting, in maintenance, unknown.
relaunch_unusable() {
  case "$1" in
    *'*'*|down*|drain*|drng*|fail*|maint*|boot*|pow*|unk*|npc*|futr*|inval*|reboot*) return 0 ;;
    *) return 1 ;;
  esac
}

# relaunch_living: the job's nodes that are usable now, in Slurm's order, one per line.
relaunch_living() {
  local members=() node state
  mapfile -t members < <(relaunch_job_nodes)
  [ ${#members[@]} -gt 0 ] || return 0
  while IFS='|' read -r node state _; do
    relaunch_unusable "$state" || echo "$node"
  done < <(relaunch_node_states "${members[@]}")
}

# relaunch_lost NODE...: which of the step's nodes are lost, one "node: why" per line; empty when none is, and when
# Slurm does not answer (sinfo or scontrol failing or timing out is no evidence that a node died).
relaunch_lost() {
  local in_job node state reason states
  local -A seen=()
  states="$(relaunch_node_states "$@")"
  [ -n "$states" ] || return 0
  in_job="$(relaunch_job_nodes | tr '\n' ' ')"
  while IFS='|' read -r node state reason; do
    seen[$node]=1
    if relaunch_unusable "$state"; then
      echo "$node: Slurm says $state (${reason:-no reason given})"
    elif [ -n "$in_job" ] && [[ " $in_job" != *" $node "* ]]; then
      echo "$node: no longer in job $SLURM_JOB_ID's node list (Slurm state $state)"
    fi
  done <<<"$states"
  for node in "$@"; do
    [ -n "${seen[$node]:-}" ] || echo "$node: unknown to sinfo now"
  done
}

# relaunch_wait_lost SECONDS NODE...: relaunch_lost, asked once a second until a node is lost or SECONDS passed.
# A dead node ends the step only when slurmctld has marked it (SlurmdTimeout), so it is usually down already; a
# step that failed earlier (a rank saw its peer vanish) may have to wait for that.
relaunch_wait_lost() {
  local bound="$1" lost deadline; shift
  deadline=$((SECONDS + bound))
  while :; do
    [ -z "${stop_asked:-}" ] || return 0
    lost="$(relaunch_lost "$@")"
    if [ -n "$lost" ] || [ "$SECONDS" -ge "$deadline" ]; then
      [ -z "$lost" ] || echo "$lost"
      return 0
    fi
    sleep 1
  done
}

# relaunch_detect_bound: seconds to wait for Slurm to mark a dead node: COORDINATED_NODE_LOSS_WAIT, else the
# cluster's SlurmdTimeout + 10 s (60 s when scontrol does not say).
relaunch_detect_bound() {
  if [ -n "${COORDINATED_NODE_LOSS_WAIT:-}" ]; then echo "$COORDINATED_NODE_LOSS_WAIT"; return; fi
  local t
  t="$(timeout 10 scontrol show config 2>/dev/null | awk '$1 == "SlurmdTimeout" { print $3 }')"
  relaunch_number "${t:-x}" && echo $((t + 10)) || echo 60
}

# relaunch_hostfile FILE RANKS NODE...: FILE gets one node per rank, block-wise in the given node order: each node
# RANKS/NODES ranks, the first RANKS%NODES nodes one more (as srun's block distribution).
relaunch_hostfile() {
  local file="$1" ranks="$2" i=0 k count per extra; shift 2
  per=$((ranks / $#)); extra=$((ranks % $#))
  : >"$file" || return 1
  for node in "$@"; do
    count=$per; [ "$i" -lt "$extra" ] && count=$((per + 1))
    for ((k = 0; k < count; k++)); do echo "$node" >>"$file"; done
    i=$((i + 1))
  done
}

# relaunch_replace LOST_NODE...: in step_nodes (the caller's array), each lost node is replaced, in its place, by the
# next spare: a living node of the job that is not in the step. relaunch_swaps gets "lost -> spare" per node. False
# (step_nodes unchanged, relaunch_spares says how many there were) when there are not enough spares.
relaunch_replace() {
  local living=() spares=() node lost i=0 k
  local -A in_step=() gone=()
  for node in "${step_nodes[@]}"; do in_step[$node]=1; done
  for lost in "$@"; do gone[$lost]=1; done
  mapfile -t living < <(relaunch_living)
  for node in "${living[@]}"; do [ -n "${in_step[$node]:-}" ] || spares+=("$node"); done
  # shellcheck disable=SC2034 # read by the caller's message
  relaunch_spares="${#spares[@]}"
  relaunch_swaps=()
  [ "${#spares[@]}" -ge "$#" ] || return 1
  for k in "${!step_nodes[@]}"; do
    node="${step_nodes[$k]}"
    if [ -n "${gone[$node]:-}" ]; then
      relaunch_swaps+=("$node -> ${spares[$i]}")
      step_nodes[k]="${spares[$i]}"
      i=$((i + 1))
    fi
  done
}
