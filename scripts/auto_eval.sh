#!/usr/bin/env bash
# Evaluate every checkpoint of a training run as it appears: infer on the benchmark, then score it.
#
#   bash scripts/auto_eval.sh work_dirs/3b/<run_name> [--watch SECONDS] [evqa infer options...]
#
# For each <run>/checkpoint-*/ (and the final model in <run>/ once training has finished) without
# eval/results.json: `evqa infer --model <ckpt> --task gen` writes eval/predictions.json and eval/masks/,
# then `evqa eval --eval_masks` writes eval/results.json. --watch polls for new checkpoints until the
# final model is saved. Benchmark: GT_FILE / VIDEO_DIR / GT_MASK_DIR (default: the synthetic benchmark,
# generated on first use; a GT_FILE that does not exist is an error).
# LoRA checkpoints hold adapters only: evaluate the `merged/` folder (training.merge_lora=true) instead.
set -euo pipefail

RUN_DIR=${1:?usage: auto_eval.sh RUN_DIR [--watch SECONDS] [infer options]}
shift
WATCH=0
if [[ "${1:-}" == --watch ]]; then WATCH=${2:?--watch needs seconds}; shift 2; fi

infer_data=() eval_data=()
if [[ -n "${GT_FILE:-}" ]]; then
  infer_data+=(--gt_file "$GT_FILE") eval_data+=(--gt_file "$GT_FILE")
  [[ -n "${VIDEO_DIR:-}" ]] && infer_data+=(--video_dir "$VIDEO_DIR")
  [[ -n "${GT_MASK_DIR:-}" ]] && eval_data+=(--gt_mask_dir "$GT_MASK_DIR")
fi

evaluate() {
  local ckpt=$1 out=$1/eval
  [[ -f "$ckpt/config.json" ]] || return 0          # not a full model (e.g. LoRA adapters only)
  [[ -f "$out/results.json" ]] && return 0
  echo "== evaluating $ckpt"
  evqa infer --model "$ckpt" --adapter ours --task gen "${infer_data[@]}" \
    --output "$out/predictions.json" --pred_mask_dir "$out/masks" "$@"
  evqa eval "${eval_data[@]}" --pred_file "$out/predictions.json" --eval_masks \
    --pred_mask_dir "$out/masks" --output_file "$out/results.json"
}

while true; do
  for ckpt in $(ls -d "$RUN_DIR"/checkpoint-* 2>/dev/null | sort -t- -k2 -n); do
    evaluate "$ckpt" "$@"
  done
  if [[ -f "$RUN_DIR/trainer_state.json" ]]; then   # written when training has finished
    evaluate "$RUN_DIR" "$@"
    [[ -d "$RUN_DIR/merged" ]] && evaluate "$RUN_DIR/merged" "$@"
    break
  fi
  [[ "$WATCH" == 0 ]] && break
  sleep "$WATCH"
done
