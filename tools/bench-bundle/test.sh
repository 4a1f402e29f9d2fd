#!/usr/bin/env bash
# Runs CpuBackend's tests from a bundle made by pack-tests.sh, through vstest, on a machine without the .NET SDK, from
# a checkout of the commit the bundle was built from (the tests find the demo model and fixtures from it). Examples:
#   tools/bench-bundle/test.sh artifacts/test-bundle
#   DOTNET_EnableAVX512=0 GPTJ_EXPECTED_VECTOR_WIDTH=256 tools/bench-bundle/test.sh artifacts/test-bundle 'FullyQualifiedName~Engine'
# The default filter leaves out the grpcio interop tests (they need Debian's python3-grpcio and its grpc_tools) and the
# instruction-set switch tests (they start `dotnet test`); run the switches as the second example does instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bundle=$(cd "$1" && pwd)
filter=${2:-'FullyQualifiedName!~PythonGrpc&FullyQualifiedName!~IsaSwitch'}
stage=${TEST_BUNDLE_DIR:-/tmp/test-bundle}
[ -x "$stage/runtime/dotnet" ] || { mkdir -p "$stage"; tar -C "$stage" -xJf "$bundle/bundle.tar.xz"; }
tests=$root/tests/CpuBackend.Tests/bin/Release/net10.0
mkdir -p "$tests"
cp -a "$stage/tests/." "$tests/"
export DOTNET_ROOT=$stage/runtime DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
exec "$stage/runtime/dotnet" "$stage/vstest/vstest.console.dll" "$tests/CpuBackend.Tests.dll" "--TestCaseFilter:$filter"
