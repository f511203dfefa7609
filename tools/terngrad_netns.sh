#!/bin/sh
# TernGrad exchange over a rate-limited link: two network namespaces joined by a veth pair with a
# tc token-bucket limit, one rank in each (needs root, iproute2, tc). Usage:
#   tools/terngrad_netns.sh RATE [SIZES_JSON] [ROUNDS]     e.g. tools/terngrad_netns.sh 1gbit
# Prints each rank's result line (rank 0's holds the medians, see bench_dist.exchange_rank) and
# removes the namespaces on exit.
set -eu
RATE=${1:-1gbit}
SIZES=${2:-'{"resnet18-grad": 11173962, "alexnet-conv4": 1327104}'}
ROUNDS=${3:-5}
A=sbtg$$a B=sbtg$$b
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$A"
ip netns add "$B"
ip -n "$A" link add tgv0 type veth peer name tgv1 netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev tgv0
ip -n "$B" addr add 10.77.0.2/24 dev tgv1
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set tgv0 up
ip -n "$B" link set tgv1 up
ip netns exec "$A" tc qdisc add dev tgv0 root tbf rate "$RATE" burst 1mb latency 100ms
ip netns exec "$B" tc qdisc add dev tgv1 root tbf rate "$RATE" burst 1mb latency 100ms
KW="{\"sizes\": $SIZES, \"rounds\": $ROUNDS}"
FN=sparsebench.methods.terngrad.bench_dist:exchange_rank
echo "$KW" | GLOO_SOCKET_IFNAME=tgv0 OMP_NUM_THREADS=1 ip netns exec "$A" \
  python -m sparsebench.runners.distributed "$FN" 0 2 10.77.0.1 29777 600 1 > /tmp/tg_netns_r0.out &
P0=$!
echo "$KW" | GLOO_SOCKET_IFNAME=tgv1 OMP_NUM_THREADS=1 ip netns exec "$B" \
  python -m sparsebench.runners.distributed "$FN" 1 2 10.77.0.1 29777 600 1 > /tmp/tg_netns_r1.out &
P1=$!
wait "$P0" "$P1"
echo "link: veth + tc tbf rate $RATE"
cat /tmp/tg_netns_r0.out
