#!/usr/bin/env bash
# Runs one benchmark suite from a bundle made by pack.sh, on a machine without the .NET SDK, from a checkout of the
# commit the bundle was built from (the suites read the demo model and tools/ from it). Examples:
#   tools/bench-bundle/run.sh artifacts/bench-bundle engine --skip-6b --python python3
#   tools/bench-bundle/run.sh artifacts/bench-bundle gateway --processes
# The build is unpacked over the checkout's bin folders, pruned as pack.sh left it (no Kubernetes client, so no AppHost):
# on a development machine, rebuild the benchmarks afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bundle=$(cd "$1" && pwd)
shift
runtime=${BENCH_BUNDLE_RUNTIME:-/tmp/bench-bundle-dotnet}

if [ ! -x "$runtime/dotnet" ]; then
  mkdir -p "$runtime"
  tar -C "$runtime" -xJf "$bundle/runtime.tar.xz"
fi
tar -C "$root" -xJf "$bundle/app.tar.xz"

export DOTNET_ROOT=$runtime DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
# Without ICU the runtime refuses to start unless told to run without it. The engine suite does not need ICU; the
# Preprocessor does (NFC normalization) and stops at start without it, so the gateway suite needs a machine with ICU.
if ! ldconfig -p 2>/dev/null | grep -q libicuuc; then
  export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
fi
exec "$runtime/dotnet" "$root/benchmarks/Benchmarks/bin/Release/net10.0/Benchmarks.dll" "$@"
