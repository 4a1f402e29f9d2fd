#!/usr/bin/env bash
# Starts the AppHost (`dotnet run --project AppHost`), waits for its banner, takes the dashboard
# screenshots into docs/images/ with screenshots.mjs, and stops the AppHost (SIGTERM: everything stops).
# Needs Debian's chromium (apt-get install -y chromium) and `npm ci` in this folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/images
mkdir -p "$out"
log=$(mktemp)

setsid dotnet run --project AppHost > "$log" 2>&1 &
apphost=$!
trap 'kill -TERM "$apphost" 2>/dev/null || true; wait "$apphost" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 600); do
  grep -q '^Dashboard' "$log" && break
  kill -0 "$apphost" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
gateway=$(sed -n 's/^Gateway ready at \([^ ]*\).*/\1/p' "$log")
dashboard=$(sed -n 's/^Dashboard (traces, logs, metrics): //p' "$log")
node tools/dashboard-screenshots/screenshots.mjs "$dashboard" "$gateway" "$out"
