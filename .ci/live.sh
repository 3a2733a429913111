#!/usr/bin/env bash
# `opendllm sample --live` under a pseudo-terminal (`script`, util-linux/bsdutils): runs it on CHECKPOINT, then checks
# the captured output: the first frame shows the prompt and one dim mask glyph per masked position, and a last frame
# shows nothing masked; the same command with stdout piped prints no escape codes.
#   bash .ci/live.sh CHECKPOINT
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:?usage: .ci/live.sh CHECKPOINT}
cli=OpenDllm.Cli/bin/Release/net10.0/opendllm.dll
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(sample "$ckpt" --prompt "def add(a, b):" --length 16 --steps 4 --seed 1)
TERM=xterm-256color script -qec "stty cols 120 rows 40; dotnet $cli $(printf '%q ' "${args[@]}") --live" /dev/null </dev/null >"$out/tty.txt"
python3 - "$out/tty.txt" <<'PY'
import re, sys
raw = open(sys.argv[1], encoding="utf-8", errors="replace").read()
assert "\x1b[2m" in raw, "no dim (SGR 2) escape: the masks are not dim"
plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b=", "", raw)
frames = [f for f in re.split(r"(?=maskgit_plus  step \d+ )", plain) if f.startswith("maskgit_plus  step")]
assert frames, "no live frame captured:\n" + plain[-2000:]
first = next(f for f in frames if f.startswith("maskgit_plus  step 0 "))
assert "16 masked" in first and first.count("\u2591") == 16 and "def add(a, b):" in first, "first frame wrong:\n" + first
last = frames[-1]
assert " 0 masked" in last and "\u2591" not in last, "last frame still masked:\n" + last
print("live: %d frames; first frame: %r" % (len(frames), first.strip()[:160]))
PY
dotnet "$cli" "${args[@]}" --live >"$out/piped.txt" 2>"$out/piped.err"
if grep -q $'\x1b' "$out/piped.txt"; then echo "live: escape codes in piped output"; exit 1; fi
grep -q "stdout is not an interactive terminal" "$out/piped.err"
echo "live: piped output plain"
