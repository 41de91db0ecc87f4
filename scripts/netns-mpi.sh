#!/usr/bin/env bash
# Several machines on one box: N network namespaces ("hosts" h0..hN-1, each with its own
# hostname) joined by veth pairs to a bridge namespace, addresses only inside them, optionally
# shaped with tc; then `mpirun` across them with a hostfile, launching the remote ranks through
# `ip netns exec` where a cluster uses ssh. MPI traffic is TCP between the namespaces: the
# multi-host path, tested for real. Root only (namespaces); everything is removed on exit.
#
#   sudo bash scripts/netns-mpi.sh [--hosts N] [--slots S] [--rate 1gbit [--burst 1mb]] \
#        [--delay 1ms] [--keep] -- PROGRAM ARGS...
#
# --rate shapes each host's outgoing link with tc's token bucket (tbf); --delay adds a one-way
# delay with netem, which some kernels lack (then it stops with tc's error).
#
# runs `mpirun -np N*S --hostfile H PROGRAM ARGS...` from h0 (S ranks per host). The
# environment variables named in KINEMA_NETNS_ENV (space-separated) are passed to every rank.
set -euo pipefail

hosts=2 slots=1 rate="" burst="1mb" delay="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --slots) slots="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --burst) burst="$2"; shift 2 ;;
    --delay) delay="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; break ;;
    *) echo "netns-mpi: unknown option $1 (see the script's header)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "netns-mpi: no program to run (after --)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "netns-mpi: needs root (network namespaces)" >&2; exit 2; }
for c in ip unshare mpirun; do
  command -v $c >/dev/null || { echo "netns-mpi: $c not found (iproute2, util-linux, openmpi-bin)" >&2; exit 2; }
done
[[ "$hosts" =~ ^[0-9]+$ ]] && [ "$hosts" -ge 2 ] && [ "$hosts" -le 500 ] || { echo "netns-mpi: --hosts must be in 2..500" >&2; exit 2; }
[[ "$slots" =~ ^[0-9]+$ ]] && [ "$slots" -ge 1 ] || { echo "netns-mpi: --slots must be at least 1" >&2; exit 2; }
if [ -n "$rate$delay" ]; then
  command -v tc >/dev/null || { echo "netns-mpi: tc not found (iproute2), needed by --rate/--delay" >&2; exit 2; }
fi

# Names unique to this run, so that runs side by side do not meet.
tag="kn$$"
bridge="${tag}br"
work="$(mktemp -d)"
cleanup() {
  if [ "$keep" -eq 1 ]; then
    echo "[netns-mpi] kept: namespaces ${tag}h0..${tag}h$((hosts - 1)) and $bridge, files in $work" >&2
  else
    for i in $(seq 0 $((hosts - 1))); do ip netns del "${tag}h$i" 2>/dev/null || true; done
    ip netns del "$bridge" 2>/dev/null || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

ip netns add "$bridge"
ip -n "$bridge" link add br0 type bridge
ip -n "$bridge" link set br0 up
: > "$work/hostfile"
for i in $(seq 0 $((hosts - 1))); do
  ns="${tag}h$i"
  ip netns add "$ns"
  ip link add "${tag}e$i" netns "$ns" type veth peer name "p$i" netns "$bridge"
  ip -n "$ns" link set "${tag}e$i" name eth0
  ip -n "$ns" addr add "10.77.$((i / 250)).$((i % 250 + 1))/16" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$bridge" link set "p$i" master br0
  ip -n "$bridge" link set "p$i" up
  # Each host's link shaped on what leaves it.
  if [ -n "$delay" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root handle 1: netem delay "$delay" limit 100000
    [ -z "$rate" ] || ip netns exec "$ns" tc qdisc add dev eth0 parent 1: handle 2: tbf rate "$rate" burst "$burst" latency 100ms
  elif [ -n "$rate" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
  fi
  echo "10.77.$((i / 250)).$((i % 250 + 1)) slots=$slots" >> "$work/hostfile"
done

# The "ssh" of this cluster: run the remote command in the host's namespace, under its own
# hostname (OpenMPI tells machines apart by name).
cat > "$work/agent" <<EOF
#!/usr/bin/env bash
# Called as: agent [options] HOST COMMAND...
while [ "\${1#-}" != "\$1" ]; do shift; done
host="\$1"; shift
last="\${host##*.}"; third="\$(echo "\$host" | cut -d. -f3)"
i=\$(( third * 250 + last - 1 ))
exec ip netns exec "${tag}h\$i" unshare --uts /bin/sh -c "hostname ${tag}h\$i; \$*"
EOF
chmod +x "$work/agent"

export_env=()
for v in ${KINEMA_NETNS_ENV:-}; do export_env+=(-x "$v"); done
np=$((hosts * slots))
echo "[netns-mpi] $hosts hosts x $slots slots${rate:+, rate $rate}${delay:+, delay $delay}: mpirun -np $np $*" >&2
set +e
ip netns exec "${tag}h0" unshare --uts /bin/sh -c "hostname ${tag}h0; exec \"\$@\"" sh \
  mpirun --allow-run-as-root -np "$np" --hostfile "$work/hostfile" \
  --mca plm_rsh_agent "$work/agent" --mca plm_rsh_no_tree_spawn 1 \
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/16 --mca oob_tcp_if_include 10.77.0.0/16 \
  --bind-to none "${export_env[@]}" "$@"
rc=$?
exit $rc
