#!/usr/bin/env bash
# Prepare a downloaded Hugging Face parquet dataset (a folder of *.parquet shards, e.g. FineCode) into token shards.
#
# Usage (from the repository root):
#   bash data-scripts/prepare-parquet.sh DATASET_DIR TOKENIZER_DIR OUT_DIR [extra `opendllm prepare` options...]
#   e.g. bash data-scripts/prepare-parquet.sh ~/data/fine_code ~/models/Qwen2.5-Coder-0.5B runs/data/fine_code --column content
#
# DATASET_DIR is searched recursively for *.parquet (read in path order, one row group at a time: memory stays flat).
# The text column defaults to "content", else "text" (--column overrides). TOKENIZER_DIR holds tokenizer.json (a Hugging
# Face model folder) or is "byte". See data-scripts/prepare-parquet.md for downloading FineCode.
set -euo pipefail
if [ $# -lt 3 ]; then sed -n '2,10p' "$0"; exit 2; fi
dataset="$(realpath "$1")"; tokenizer="$2"; out="$3"; shift 3
[ "$tokenizer" = byte ] || tokenizer="$(realpath "$tokenizer")"
cd "$(dirname "$0")/.."
exec dotnet run --project OpenDllm.Cli -c Release -- prepare --source parquet --path "$dataset" \
  --tokenizer "$tokenizer" --out "$out" --val-fraction 0.001 "$@"
