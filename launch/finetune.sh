#!/usr/bin/env bash
# Fine-tune under torchrun, one rank per GPU (gloo ranks on a CPU-only machine): DDP, or
# DeepSpeed ZeRO through accelerate when the config says finetune.backend: deepspeed.
#   launch/finetune.sh CONFIG [NPROC] [--task NAME ...] [--set KEY=VALUE ...] [--force]
# NPROC defaults to the number of visible GPUs (2 on a CPU-only machine). The global batch is
# finetune.batch_size x NPROC x finetune.grad_accum. Rank 0 writes OUT/finetune/<task>/ and
# OUT/task_vectors/<task>.safetensors; with finetune.checkpoint_every > 0 a killed run resumes
# when started again. Multi-node: set TORCHRUN_ARGS, e.g.
#   TORCHRUN_ARGS="--nnodes=2 --node_rank=0 --rdzv_backend=c10d --rdzv_endpoint=node0:29500" launch/finetune.sh CONFIG 8
set -euo pipefail
config=${1:?usage: launch/finetune.sh CONFIG [NPROC] [--task NAME ...] [--set KEY=VALUE ...]}
shift
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then nproc=$1; shift; else
  nproc=$(python3 -c 'import torch; print(torch.cuda.device_count() or 2)')
fi
# shellcheck disable=SC2086
exec torchrun ${TORCHRUN_ARGS:---standalone} --nproc_per_node="$nproc" -m sitv_dist.cli finetune -c "$config" "$@"
