#!/usr/bin/env bash
# Packs CpuBackend's tests for a machine without the .NET SDK (the many-core device machine) into DIR (default
# artifacts/test-bundle): this machine's .NET runtime less its debugger and alternative-GC libraries (vstest's host needs
# assemblies pack.sh leaves out, System.Data.Common among them), the SDK's vstest console with its extensions, and the
# Release build of tests/CpuBackend.Tests without pdbs or the demo model copy (the tests read the checkout's). About
# 38 MB, which leaves room for a checkout beside it under the device's 64 MiB.
# On the other machine, from a checkout of the same commit: tools/bench-bundle/test.sh DIR [FILTER]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/artifacts/test-bundle}" && cd "${1:-$root/artifacts/test-bundle}" && pwd)
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
sdk=$(ls -d "$dotnet_root"/sdk/*/ | sort -V | tail -1)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

dotnet build "$root/tests/CpuBackend.Tests" -c Release --nologo -v quiet

mkdir -p "$stage/runtime" "$stage/vstest" "$stage/tests"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$dotnet_root/shared" "$stage/runtime/"
core=$(echo "$stage"/runtime/shared/Microsoft.NETCore.App/*)
rm -f "$core"/{libmscordaccore.so,libmscordbi.so,libclrgc.so,libclrgcexp.so,createdump,Microsoft.VisualBasic.Core.dll,Microsoft.CSharp.dll} \
  "$core"/System.{Private.DataContractSerialization,Linq.Parallel,Net.Mail,Net.HttpListener,Transactions.Local}.dll
cp -a "$sdk"/vstest.console.* "$sdk"/Microsoft.TestPlatform.* "$sdk"/Microsoft.VisualStudio.TestPlatform.* \
  "$sdk"/Newtonsoft.Json.dll "$sdk"/Microsoft.Extensions.FileSystemGlobbing.dll "$sdk"/Microsoft.Extensions.DependencyModel.dll \
  "$sdk"/Extensions "$stage/vstest/"
# The console's translations and its dump collector are not needed.
find "$stage/vstest/Extensions" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -a "$root/tests/CpuBackend.Tests/bin/Release/net10.0/." "$stage/tests/"
find "$stage/tests" \( -name '*.pdb' -o -path '*/runtimes/win*' -o -path '*/runtimes/osx*' \) -prune -exec rm -rf {} +
rm -rf "$stage/tests/models"
python3 "$root/tools/bench-bundle/prune_deps.py" "$core" "$stage/tests"

tar -C "$stage" -cf - . | xz -T0 -9 > "$out/bundle.tar.xz"
ls -l "$out"
