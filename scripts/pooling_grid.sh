#!/usr/bin/env bash
# The train-pooling x eval-pooling grid: one prediction file + summary per cell and a table.
#
#   bash scripts/pooling_grid.sh --benchmark tvqa --data-dir data/tvqa --model Qwen/Qwen2.5-VL-7B-Instruct \
#       --train base= --train wa=models/sft/wa --eval-pooling wa wae war bblf --out runs/grid [-- infer options]
#
# See `python -m evqa.training.pooling_grid --help`.
set -euo pipefail
exec python -m evqa.training.pooling_grid "$@"
