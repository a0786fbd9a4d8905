#!/usr/bin/env bash
# Runs the official TypeScript SDK against aibatch-emulator (see sdk_conformance.mjs).
# Usage: run_sdk_conformance.sh EMULATOR_BINARY WORK_DIR
# Exit 77 (ctest: skipped) when node/npm are missing or the SDK cannot be installed.
set -uo pipefail
emulator="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
sdk_version="1.13.0"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: node and npm are needed for the SDK conformance test"
    exit 77
fi
mkdir -p "$work"
if [ ! -f "$work/node_modules/@anthropic-ai/sdk/package.json" ] ||
   ! grep -q "\"version\": \"$sdk_version\"" "$work/node_modules/@anthropic-ai/sdk/package.json"; then
    if ! (cd "$work" && npm install --silent --no-audit --no-fund --no-save \
            "@anthropic-ai/sdk@$sdk_version" >npm.log 2>&1); then
        echo "SKIP: could not install @anthropic-ai/sdk@$sdk_version from npm:"
        tail -5 "$work/npm.log"
        exit 77
    fi
fi
cp "$here/sdk_conformance.mjs" "$work/"

out="$work/emulator.out"
rm -f "$out" # else a slow start reads the last run's URL from it
"$emulator" --port 0 --processing-time 0.4 --api-key sk-ant-conformance --seed 7 >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do
    [ -s "$out" ] && break
    sleep 0.05
done
url="$(head -n 1 "$out")"
echo "emulator at $url, SDK $sdk_version"
cd "$work" && EMULATOR_URL="$url" timeout 120 node sdk_conformance.mjs
