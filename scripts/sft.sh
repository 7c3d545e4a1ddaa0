#!/usr/bin/env bash
# Fine-tune EVQA (upstream's command line, with the resume argument actually honoured).
#
#   bash scripts/sft.sh [tiny|3b|7b] [tiny|base|large] [--from_scratch | /path/to/checkpoint | ""] [overrides...]
#
#   model size   tiny (random init, CPU demo) | 3b | 7b                        (default 3b)
#   SAM2         tiny | base | large; the tiny model keeps its micro SAM2 unless base/large is given
#                                                                           (default base)
#   resume       --from_scratch: start from the base weights;  a path: resume from that checkpoint;
#                empty: resume from the newest checkpoint of the run directory, if there is one
#   overrides    section.key=value pairs passed to `evqa train`, e.g. training.max_steps=100
#
# Environment: NUM_GPUS (GPUs per node; default: all visible, 0 = CPU), NNODES (1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1), MASTER_PORT (29500), ZERO (DeepSpeed config scripts/zero$ZERO.json, default 2;
# e.g. ZERO=3_offload), RUN_NAME (default: the experiment file's name), DRY_RUN=1 (print the command only).
# Run directory: work_dirs/<model_size>/<run_name>/ (checkpoints, trainer_state.json, final model).
set -euo pipefail

MODEL_SIZE=${1:-3b}
SAM2_TYPE=${2:-base}
RESUME=${3:-}
shift $(( $# < 3 ? $# : 3 ))

cd "$(dirname "$0")/.."

case "$MODEL_SIZE" in
  tiny) CONFIG=train/evqa_tiny_synth_sft.yaml ;;
  3b|7b)
    CONFIG=train/evqa_${MODEL_SIZE}-${SAM2_TYPE}_mix_sft.yaml
    [[ -f "$CONFIG" ]] || CONFIG=train/evqa_${MODEL_SIZE}-base_mix_sft.yaml ;;
  *) echo "error: model size must be tiny, 3b or 7b (got '$MODEL_SIZE')" >&2; exit 2 ;;
esac
case "$SAM2_TYPE" in
  tiny|base|large) ;;
  *) echo "error: SAM2 type must be tiny, base or large (got '$SAM2_TYPE')" >&2; exit 2 ;;
esac

RUN_NAME=${RUN_NAME:-$(basename "$CONFIG" .yaml)}
OUTPUT_DIR=work_dirs/${MODEL_SIZE}/${RUN_NAME}
ARGS=(--config "$CONFIG" "training.output_dir=$OUTPUT_DIR")
if [[ "$MODEL_SIZE" != tiny || "$SAM2_TYPE" != tiny ]]; then
  ARGS+=("model.sam2=$SAM2_TYPE")
fi

case "$RESUME" in
  --from_scratch) ARGS+=(training.resume=scratch) ;;
  "") ARGS+=(training.resume=auto) ;;
  *)
    if [[ ! -d "$RESUME" ]]; then echo "error: checkpoint folder not found: $RESUME" >&2; exit 2; fi
    ARGS+=("training.resume=$RESUME") ;;
esac

if [[ -z "${NUM_GPUS:-}" ]]; then
  NUM_GPUS=$(python -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
ZERO=${ZERO:-2}

if [[ "$NUM_GPUS" == 0 ]]; then
  CMD=(evqa train "${ARGS[@]}" "$@")
else
  CMD=(torchrun --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$NUM_GPUS"
       --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT"
       -m evqa.cli.main train "${ARGS[@]}" "training.deepspeed=scripts/zero${ZERO}.json" "$@")
fi
if [[ -n "${DRY_RUN:-}" ]]; then   # print the command instead of running it
  printf '%q ' "${CMD[@]}"; echo; exit 0
fi

mkdir -p "$OUTPUT_DIR"
echo "experiment $CONFIG -> $OUTPUT_DIR (resume: ${RESUME:-auto}; GPUs/node: $NUM_GPUS; nodes: $NNODES)"

exec "${CMD[@]}"
