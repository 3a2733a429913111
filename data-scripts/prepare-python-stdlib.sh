#!/usr/bin/env bash
# Prepare the embedded default corpus: this machine's Python standard library sources, tokenized into token shards.
#
# Usage (from the repository root):
#   bash data-scripts/prepare-python-stdlib.sh [OUT_DIR] [extra `opendllm prepare` options...]
#   e.g. bash data-scripts/prepare-python-stdlib.sh runs/data/python-stdlib --tokenizer path/to/Qwen2.5-Coder-0.5B
#
# Reads `python3 -c "import sysconfig; print(sysconfig.get_paths()['stdlib'])"` (set OPENDLLM_PYTHON to use another
# Python), **/*.py without site-packages/ and the test suites, files of 64 bytes to 1 MiB (see OpenDllm.Core/Data/DefaultCorpus.cs).
# Nothing is committed: the output (default runs/data/python-stdlib) is git-ignored. Byte tokenizer by default;
# about 12 M tokens in a few seconds on CPython 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/data/python-stdlib}"
shift || true
exec dotnet run --project OpenDllm.Cli -c Release -- prepare --source python-stdlib --out "$out" "$@"
