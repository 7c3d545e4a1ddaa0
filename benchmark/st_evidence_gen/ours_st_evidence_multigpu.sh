#!/usr/bin/env bash
# Run ours_st_evidence.py on NUM_GPUS GPUs (one shard per GPU, starting at START_GPU), then merge the shards.
#   bash ours_st_evidence_multigpu.sh MODEL [NUM_GPUS=8] [START_GPU=0] [more ours_st_evidence.py flags]
# Each shard appends to its own JSONL; re-running resumes; the merge writes the final JSON.
set -euo pipefail
MODEL=${1:?usage: ours_st_evidence_multigpu.sh MODEL [NUM_GPUS] [START_GPU] [flags...]}
NUM_GPUS=${2:-8}
START_GPU=${3:-0}
shift $(( $# < 3 ? $# : 3 ))
cd "$(dirname "$0")"
pids=()
for ((i = 0; i < NUM_GPUS; i++)); do
    CUDA_VISIBLE_DEVICES=$((START_GPU + i)) python ours_st_evidence.py --model "$MODEL" \
        --num_shards "$NUM_GPUS" --shard_index "$i" --no-progress "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
case " $* " in *" --dry-run "*) exit $status ;; esac
python ours_st_evidence.py --model "$MODEL" --merge "$@"
exit $status
