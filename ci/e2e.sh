#!/usr/bin/env bash
# Runs the Ginkgo end-to-end suites against the lab binary that `make build` made.
#   LABELS='topology'  FOCUS='reaches every host'  ci/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export KINNS_LAB_BINARY=${KINNS_LAB_BINARY:-$PWD/_output/bin/lab}
export KINNS_TESTAPP=${KINNS_TESTAPP:-$PWD/_output/bin/testapp}
args=(-r --procs=1 --timeout=30m --poll-progress-after=120s)
[[ -n ${LABELS:-} ]] && args+=(--label-filter="$LABELS")
[[ -n ${FOCUS:-} ]] && args+=(--focus="$FOCUS")
[[ -n ${VERBOSE:-} ]] && args+=(-v)
exec go tool ginkgo "${args[@]}" ./specs
