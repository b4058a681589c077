#!/usr/bin/env bash
# Run a sweep with one worker per torchrun rank; rank 0 reduces and reports at the end.
#   launch/sweep.sh CONFIG [NPROC] [more `sitv sweep` args, e.g. --set sweep.alpha.num=100]
# NPROC defaults to the number of visible GPUs (2 on a CPU-only machine, using gloo).
# Multi-node: set TORCHRUN_ARGS, e.g.
#   TORCHRUN_ARGS="--nnodes=2 --node_rank=0 --rdzv_backend=c10d --rdzv_endpoint=node0:29500" launch/sweep.sh CONFIG 8
set -euo pipefail
config=${1:?usage: launch/sweep.sh CONFIG [NPROC] [sitv sweep args...]}
shift
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then nproc=$1; shift; else
  nproc=$(python3 -c 'import torch; print(torch.cuda.device_count() or 2)')
fi
# shellcheck disable=SC2086
exec torchrun ${TORCHRUN_ARGS:---standalone} --nproc_per_node="$nproc" -m sitv_dist.cli sweep -c "$config" "$@"
