#!/usr/bin/env bash
# Runs every check and test of mcgw on a fresh machine: installs what is missing (npm packages,
# Debian packages), builds the Kubernetes control-plane binaries, helm and the container images
# (scripts/setup.sh → build-all.sh: the three in parallel, each cached), then runs lint, type
# checks and the whole test suite against real kube-apiservers. The build (dist/) comes before the
# tests, so the mcgw processes they start run compiled code: quicker to start, less memory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint and format"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
echo "== type check"
npx tsc -p tsconfig.json
echo "== build"
node scripts/build.mjs
echo "== tests"
exec node scripts/run-tests.mjs "$@"
