#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds a whole ClusterSet here
# (`mcgw lab up`), runs the Gateway-death scenario with mcgw and with the control-plane-only
# baseline, prints the report and removes the lab again, also when interrupted.
# Arguments go to `mcgw lab run`, e.g. `npm run lab -- --trials 3 --json`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
trap 'node bin/mcgw.js lab down' EXIT
node bin/mcgw.js lab up
node bin/mcgw.js lab run gateway-death "$@"
