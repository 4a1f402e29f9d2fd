#!/usr/bin/env bash
# Packs what the engine and gateway benchmark suites need on a machine that has no .NET SDK into DIR (default
# artifacts/bench-bundle): runtime.tar.xz, this machine's .NET runtime less what the suites and services never load,
# and app.tar.xz, the Release build of the benchmarks and of the three services (framework-dependent, without the demo
# model, which the repository holds). Both stay small enough to travel beside a checkout: about 27 and 12 MB.
# On the other machine, from a checkout of the same commit: tools/bench-bundle/run.sh DIR SUITE [ARGS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/artifacts/bench-bundle}" && cd "${1:-$root/artifacts/bench-bundle}" && pwd)
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

dotnet build "$root/benchmarks/Benchmarks" -c Release --nologo -v quiet

# The runtime: the host and both shared frameworks, less debugger and diagnostics libraries, the alternative GCs
# and assemblies none of the suites or services load (data, serializers, Visual Basic, ...; ASP.NET Core needs XML).
mkdir -p "$stage/runtime"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$dotnet_root/shared" "$stage/runtime/"
core=$(echo "$stage"/runtime/shared/Microsoft.NETCore.App/*)
for unused in System.Data.Common.dll \
    System.Private.DataContractSerialization.dll Microsoft.VisualBasic.Core.dll libmscordaccore.so libmscordbi.so \
    libclrgcexp.so libclrgc.so createdump System.Linq.Parallel.dll System.Text.Encoding.CodePages.dll \
    System.Transactions.Local.dll System.Net.Mail.dll System.Net.HttpListener.dll Microsoft.CSharp.dll \
    System.Threading.Tasks.Dataflow.dll; do
  rm -f "$core/$unused"
done

# The build: every suite's and service's output folder, without pdbs, other platforms' native assets and model copies.
mkdir -p "$stage/app"
for project in benchmarks/Benchmarks CpuBackend Preprocessor Gateway; do
  mkdir -p "$stage/app/$project/bin/Release"
  cp -a "$root/$project/bin/Release/net10.0" "$stage/app/$project/bin/Release/"
done
find "$stage/app" \( -name '*.pdb' -o -path '*/runtimes/win*' -o -path '*/runtimes/osx*' \) -prune -exec rm -rf {} +
find "$stage/app" -type d -path '*/net10.0/models' -prune -exec rm -rf {} +
# The Aspire hosting assemblies the orchestrated suites need are not used by --processes: Kubernetes' client and the
# terminal UI library are the largest of them.
rm -f "$stage"/app/benchmarks/Benchmarks/bin/Release/net10.0/{KubernetesClient,Hex1b}.dll

# The host refuses to start an app or framework whose deps.json lists a file that is missing: list only what is there.
python3 "$root/tools/bench-bundle/prune_deps.py" "$core" "$stage"/app/{CpuBackend,Preprocessor,Gateway,benchmarks/Benchmarks}/bin/Release/net10.0

tar -C "$stage/runtime" -cf - . | xz -T0 -9 > "$out/runtime.tar.xz"
tar -C "$stage/app" -cf - . | xz -T0 -9 > "$out/app.tar.xz"
ls -l "$out"
