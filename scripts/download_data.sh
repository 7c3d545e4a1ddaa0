#!/usr/bin/env bash
# Download and extract the real training / benchmark data from the Hugging Face Hub.
#
#   bash scripts/download_data.sh [benchmark|instruct|unipixel|all] [extra `evqa data download` options]
#
# benchmark -> data/st_evidence (Salesforce/ST-Evidence, ~10 GB)
# instruct  -> data/st-evidence-instruct (Salesforce/ST-Evidence-Instruct, ~46 GB)
# unipixel  -> data/ (PolyU-ChenLab/UniPixel-SFT-1M: revos, mevis, lvvis, ref_*, vicas, ...)
# Gated repositories need a token in the environment: export HF_TOKEN=...
set -euo pipefail

what="${1:-all}"
shift || true

fetch() {
    local dataset="$1"
    shift
    evqa data download "$dataset" --extract "$@"
}

case "$what" in
    benchmark) fetch st-evidence "$@" ;;
    instruct) fetch st-evidence-instruct "$@" ;;
    unipixel) fetch unipixel-sft "$@" ;;
    all)
        fetch st-evidence "$@"
        fetch st-evidence-instruct "$@"
        fetch unipixel-sft "$@"
        ;;
    *)
        echo "usage: bash scripts/download_data.sh [benchmark|instruct|unipixel|all] [options]" >&2
        exit 2
        ;;
esac

echo "done; check the data with: evqa data check --csv <csv> --video-dir <videos> --mask-dir <masks>"
