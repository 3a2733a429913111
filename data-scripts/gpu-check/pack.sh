#!/usr/bin/env bash
# Packs the OpenDllm GPU check: the CLI and the tests, built without libtorch natives, plus a .NET runtime and an xunit
# console runner, into one archive that runs on a Linux x64 machine with PyTorch (a CUDA build) and no .NET.
#
#   bash data-scripts/gpu-check/pack.sh [OUTDIR]        (default OUTDIR: out/gpu-check)
#
# Writes OUTDIR/opendllm-gpu-check.tar.xz and OUTDIR/run.sh (copy both to the GPU machine; run `bash run.sh`).
# Refuses to finish when the two files together reach 64 MiB. Needs dotnet (the SDK of global.json) and xz.
# Build outputs go to a separate artifacts folder (OPENDLLM_PACK_ARTIFACTS, default $TMPDIR/opendllm-gpu-pack), so the
# normal bin/ and obj/ folders, which carry the bundled CPU libtorch, are left as they are.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/data-scripts/gpu-check"
out=${1:-$root/out/gpu-check}
mkdir -p "$out"; out=$(cd "$out" && pwd)
art=${OPENDLLM_PACK_ARTIFACTS:-${TMPDIR:-/tmp}/opendllm-gpu-pack}
limit=$((64 * 1024 * 1024))
command -v dotnet >/dev/null || { echo "pack.sh: dotnet is not on PATH" >&2; exit 1; }
command -v xz >/dev/null || { echo "pack.sh: xz is not installed (apt-get install xz-utils)" >&2; exit 1; }

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cd "$root"

# 1. The CLI and the tests: framework-dependent, linux-x64 natives only, no libtorch (TorchBackend=external: TorchSharp's
#    own libLibTorchSharp.so stays, with the GLIBCXX fix of Directory.Build.targets), English resources only.
publish=(-c Release -r linux-x64 --self-contained false -p:TorchBackend=external -p:UseAppHost=false
         -p:SatelliteResourceLanguages=en --artifacts-path "$art" -v q -nologo)
echo "pack.sh: publishing the CLI and the tests (build outputs in $art) ..."
dotnet publish OpenDllm.Cli "${publish[@]}" -o "$stage/app"
dotnet publish tests/OpenDllm.Tests "${publish[@]}" -o "$stage/tests"
for dir in "$stage/app" "$stage/tests"; do
    if ls "$dir" | grep -Eq '^lib(torch|c10)'; then echo "pack.sh: $dir holds libtorch natives; expected none" >&2; exit 1; fi
    [ -f "$dir/libLibTorchSharp.so" ] || { echo "pack.sh: $dir lacks libLibTorchSharp.so" >&2; exit 1; }
    find "$dir" -name '*.xml' -delete   # API docs; the .pdb files stay for line numbers in stack traces
done
rm -rf "$stage/tests/CodeCoverage"        # Microsoft.NET.Test.Sdk's coverage collector: only `dotnet test` uses it

# 2. xunit v2's console runner (net6.0 build, rolled forward to the bundled .NET), fetched by NuGet, placed next to the
#    test assembly so that the tests' AppContext.BaseDirectory (fixtures) is their own folder.
runner_version=2.9.3
probe=$(mktemp -d)
cat > "$probe/runner.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup>
  <ItemGroup><PackageDownload Include="xunit.runner.console" Version="[$runner_version]" /></ItemGroup>
</Project>
EOF
(cd "$probe" && dotnet restore -v q -nologo >/dev/null)
rm -rf "$probe"
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
runner="$packages/xunit.runner.console/$runner_version/tools/net6.0"
[ -f "$runner/xunit.console.dll" ] || { echo "pack.sh: $runner/xunit.console.dll not found after restore" >&2; exit 1; }
for f in "$runner"/*; do
    name=$(basename "$f")
    case $name in *.exe|xunit.console.runtimeconfig.json) continue ;; esac
    [ -e "$stage/tests/$name" ] || cp "$f" "$stage/tests/$name"
done
cat > "$stage/tests/xunit.console.runtimeconfig.json" <<'EOF'
{
  "runtimeOptions": {
    "tfm": "net6.0",
    "rollForward": "Major",
    "framework": { "name": "Microsoft.NETCore.App", "version": "6.0.0" }
  }
}
EOF

# 3. The .NET runtime the app needs (host, hostfxr, Microsoft.NETCore.App), from the SDK that built it.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
fx=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | grep '^10\.' | sort -V | tail -1)
fxr=$(ls "$dotnet_root/host/fxr" | grep '^10\.' | sort -V | tail -1)
[ -n "$fx" ] && [ -n "$fxr" ] || { echo "pack.sh: no .NET 10 runtime under $dotnet_root" >&2; exit 1; }
mkdir -p "$stage/dotnet"
(cd "$dotnet_root" && tar cf - dotnet "host/fxr/$fxr" "shared/Microsoft.NETCore.App/$fx") | tar xf - -C "$stage/dotnet"

# 4. The recipe, HumanEval (MIT; for the batched-eval timing, when ../shared has it) and a manifest.
mkdir -p "$stage/recipes"
cp recipes/quickstart.yaml "$stage/recipes/"
humaneval=${OPENDLLM_BENCHMARKS:-$root/../shared/data/benchmarks}/humaneval
if [ -d "$humaneval" ]; then mkdir -p "$stage/data/benchmarks" && cp -r "$humaneval" "$stage/data/benchmarks/"
else echo "pack.sh: $humaneval not found; the GPU check will skip the batched eval timing" >&2; fi
cat > "$stage/MANIFEST" <<EOF
opendllm-gpu-check
commit: $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo " (with uncommitted changes)")
packed: $(date -u +%Y-%m-%dT%H:%M:%SZ)
dotnet runtime: Microsoft.NETCore.App $fx
xunit console runner: $runner_version
EOF

# 5. Identical files in app/ and tests/ become hard links, which tar stores once.
(cd "$stage/app" && find . -type f) | while read -r rel; do
    if [ -f "$stage/tests/$rel" ] && cmp -s "$stage/app/$rel" "$stage/tests/$rel"; then ln -f "$stage/app/$rel" "$stage/tests/$rel"; fi
done

echo "pack.sh: compressing ($(du -sh "$stage" | cut -f1) unpacked) ..."
tar cf - -C "$stage" . | xz -T2 -9 > "$out/opendllm-gpu-check.tar.xz"
cp "$here/run.sh" "$out/run.sh"
total=$(( $(stat -c %s "$out/opendllm-gpu-check.tar.xz") + $(stat -c %s "$out/run.sh") ))
echo "pack.sh: $out/opendllm-gpu-check.tar.xz + run.sh = $total bytes ($((total / 1024 / 1024)) MiB; limit 64 MiB)"
if [ "$total" -ge "$limit" ]; then echo "pack.sh: the bundle is 64 MiB or more; it would not fit" >&2; exit 1; fi
