#!/usr/bin/env bash
# Pack OpenDllm.Core and OpenDllm.Interactive into a local NuGet feed folder, for notebooks and scripts that reference
# them by package rather than by path.
#
# Usage (from anywhere):
#   bash data-scripts/pack-local-feed.sh [FEED_DIR] [VERSION]
#   FEED_DIR defaults to local-feed/ at the repository root (git-ignored); VERSION to $OPENDLLM_PACKAGE_VERSION or 0.1.0-local.
#
# Then, in a notebook run by the .NET Interactive kernel (dotnet-repl, Polyglot, Jupyter) from anywhere inside the
# repository (its nuget.config names local-feed/ as a package source, so no #i line is needed):
#   #r "nuget: OpenDllm.Interactive, 0.1.0-local"
# The kernel then runs OpenDllm's kernel extension (OpenDllm.Interactive.KernelExtension, packed under
# interactive-extensions/dotnet/): TorchSharp natives, formatters, usings, #!opendllm-doctor.
# Or in a project: dotnet add package OpenDllm.Interactive --version 0.1.0-local --source /absolute/path/to/local-feed
# The script checks that the OpenDllm.Interactive package carries interactive-extensions/dotnet/OpenDllm.Interactive.dll.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,15p' "$0"; exit 0;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
feed="$(mkdir -p "${1:-$root/local-feed}" && cd "${1:-$root/local-feed}" && pwd)"
version="${2:-${OPENDLLM_PACKAGE_VERSION:-0.1.0-local}}"
cd "$root"
for project in OpenDllm.Core OpenDllm.Interactive; do
  dotnet pack "$project/$project.csproj" -c Release -o "$feed" -p:Version="$version" -nologo -v q
done
pkg="$feed/OpenDllm.Interactive.$version.nupkg"
[ -f "$pkg" ] || { echo "pack-local-feed: $pkg was not produced" >&2; exit 1; }
if ! unzip -l "$pkg" | grep -q 'interactive-extensions/dotnet/OpenDllm.Interactive.dll'; then
  echo "pack-local-feed: $pkg lacks interactive-extensions/dotnet/OpenDllm.Interactive.dll (the kernel extension)" >&2; exit 1
fi
# A nuget cache entry of the same version would shadow the new package in notebooks: drop it.
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
rm -rf "$cache/opendllm.core/$version" "$cache/opendllm.interactive/$version"
echo "packed OpenDllm.Core and OpenDllm.Interactive $version into $feed (kernel extension present)"
