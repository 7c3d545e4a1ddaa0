#!/usr/bin/env bash
# Fine-tune EVQA: upstream EVQA's recipe (train/scripts/sft.sh of the paper's code, see train/README.md,
# "The EVQA recipe"), with the resume argument actually honoured.
#
#   bash scripts/sft.sh [tiny|3b|7b] [tiny|base|large] [--from_scratch | /path/to/checkpoint | ""] [overrides...]
#
#   model size   tiny (random init, CPU demo) | 3b | 7b                        (default 3b)
#   SAM2         tiny | base | large: the experiment train/evqa_<size>-<SAM2>_mix_sft.yaml; the tiny model
#                keeps its micro SAM2 unless base/large is given                (default base)
#   resume       --from_scratch: start from the base weights (3b/7b: the converted UniPixel checkpoint),
#                ignoring checkpoints of the run directory;  a path: resume from that checkpoint;
#                empty: resume from the newest checkpoint of the run directory, if there is one
#   overrides    section.key=value pairs passed to `evqa train`, e.g. training.max_steps=100
#
# 3b/7b start from a converted UniPixel checkpoint, BASE_MODEL (default model_zoo/evqa-unipixel-<size>):
#   evqa convert-unipixel model_zoo/UniPixel-3B model_zoo/evqa-unipixel-3b --base-preset 3b --sam2 base
# Environment: NUM_GPUS (GPUs per node; default: all visible, 0 = CPU), NNODES (1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1), MASTER_PORT (29500), ZERO (DeepSpeed config scripts/zero$ZERO.json, default 0 as
# upstream; e.g. ZERO=2 or ZERO=3_offload to save memory), BASE_MODEL, RUN_NAME (default: the experiment
# file's name, plus -sam2_<type> when the SAM2 differs from the file's), DRY_RUN=1 (print the command only).
# Run directory: work_dirs/<model_size>/<run_name>/ (checkpoints, trainer_state.json, final model); runs
# with different SAM2 types never share one, so they never resume from each other.
set -euo pipefail

MODEL_SIZE=${1:-3b}
SAM2_TYPE=${2:-base}
RESUME=${3:-}
shift $(( $# < 3 ? $# : 3 ))

cd "$(dirname "$0")/.."

case "$SAM2_TYPE" in
  tiny|base|large) ;;
  *) echo "error: SAM2 type must be tiny, base or large (got '$SAM2_TYPE')" >&2; exit 2 ;;
esac
case "$MODEL_SIZE" in
  tiny) CONFIG=train/evqa_tiny_synth_sft.yaml; CONFIG_SAM2=tiny ;;
  3b|7b) CONFIG=train/evqa_${MODEL_SIZE}-${SAM2_TYPE}_mix_sft.yaml; CONFIG_SAM2=$SAM2_TYPE ;;
  *) echo "error: model size must be tiny, 3b or 7b (got '$MODEL_SIZE')" >&2; exit 2 ;;
esac
if [[ ! -f "$CONFIG" ]]; then echo "error: experiment file not found: $CONFIG" >&2; exit 2; fi

DEFAULT_RUN=$(basename "$CONFIG" .yaml)
[[ "$SAM2_TYPE" == "$CONFIG_SAM2" ]] || DEFAULT_RUN=${DEFAULT_RUN}-sam2_${SAM2_TYPE}
RUN_NAME=${RUN_NAME:-$DEFAULT_RUN}
OUTPUT_DIR=work_dirs/${MODEL_SIZE}/${RUN_NAME}
ARGS=(--config "$CONFIG" "training.output_dir=$OUTPUT_DIR")
if [[ "$MODEL_SIZE" != tiny || "$SAM2_TYPE" != tiny ]]; then
  ARGS+=("model.sam2=$SAM2_TYPE")
fi
if [[ "$MODEL_SIZE" != tiny ]]; then
  BASE_MODEL=${BASE_MODEL:-model_zoo/evqa-unipixel-${MODEL_SIZE}}
  if [[ ! -f "$BASE_MODEL/config.json" ]]; then
    SIZE_UP=$(echo "$MODEL_SIZE" | tr a-z A-Z)
    echo "error: converted UniPixel-${SIZE_UP} checkpoint not found: $BASE_MODEL (no config.json); convert the" \
         "released one first: evqa convert-unipixel model_zoo/UniPixel-${SIZE_UP} $BASE_MODEL" \
         "--base-preset $MODEL_SIZE --sam2 base" >&2
    exit 2
  fi
  ARGS+=("model.base_model=$BASE_MODEL")
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
ZERO=${ZERO:-0}

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
echo "experiment $CONFIG -> $OUTPUT_DIR (SAM2: $SAM2_TYPE; resume: ${RESUME:-auto}; GPUs/node: $NUM_GPUS; nodes: $NNODES)"

exec "${CMD[@]}"
