#!/usr/bin/env bash
# Run ours_st_evidence.py on NUM_GPUS GPUs (one shard per GPU, starting at START_GPU), then merge the shards.
#   bash ours_st_evidence_multigpu.sh MODEL [NUM_GPUS=8] [START_GPU=0] [more ours_st_evidence.py flags]
# Each shard appends to its own JSONL; re-running resumes; the merge writes the final JSON only when every
# shard succeeded. Exit codes: 0 all shards done and merged, 1 a shard failed (nothing merged), 2 bad usage
# (e.g. more GPUs asked for than the machine has).
set -euo pipefail
MODEL=${1:?usage: ours_st_evidence_multigpu.sh MODEL [NUM_GPUS] [START_GPU] [flags...]}
NUM_GPUS=${2:-8}
START_GPU=${3:-0}
shift $(( $# < 3 ? $# : 3 ))
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python}
dry_run=0
case " $* " in *" --dry-run "* | *" --dry_run "*) dry_run=1 ;; esac

if ! [[ "$NUM_GPUS" =~ ^[1-9][0-9]*$ && "$START_GPU" =~ ^[0-9]+$ ]]; then
    echo "error: NUM_GPUS must be a positive integer and START_GPU a GPU index (got '$NUM_GPUS', '$START_GPU')" >&2
    exit 2
fi
if [[ $dry_run == 0 ]]; then
    if command -v nvidia-smi > /dev/null 2>&1; then
        available=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
    else
        available=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())' 2> /dev/null || echo 0)
    fi
    if (( START_GPU + NUM_GPUS > available )); then
        echo "error: GPUs $START_GPU..$((START_GPU + NUM_GPUS - 1)) asked for, this machine has $available" >&2
        exit 2
    fi
fi

pids=()
for ((i = 0; i < NUM_GPUS; i++)); do
    CUDA_VISIBLE_DEVICES=$((START_GPU + i)) "$PYTHON" ours_st_evidence.py --model "$MODEL" \
        --num_shards "$NUM_GPUS" --shard_index "$i" --no-progress "$@" &
    pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("$i")
done
if (( ${#failed[@]} )); then
    echo "error: shard(s) ${failed[*]} of $NUM_GPUS failed; nothing merged. Fix the cause and run the same" \
        "command again: finished entries are kept and skipped" >&2
    exit 1
fi
[[ $dry_run == 1 ]] && exit 0
"$PYTHON" ours_st_evidence.py --model "$MODEL" --merge "$@"
