#!/usr/bin/env bash
# Runs the Ginkgo end-to-end suites against the lab binary that `make build` made.
#   LABELS='topology'  FOCUS='reaches every host'  ci/e2e.sh
# The soak (label soak) runs only when LABELS asks for it: make soak.
set -euo pipefail
cd "$(dirname "$0")/.."
export KINNS_LAB_BINARY=${KINNS_LAB_BINARY:-$PWD/_output/bin/lab}
export KINNS_TESTAPP=${KINNS_TESTAPP:-$PWD/_output/bin/testapp}
args=(-r --procs=1 --timeout="${TIMEOUT:-30m}" --poll-progress-after="${POLL_PROGRESS_AFTER:-120s}")
labels='!soak'
if [[ ${LABELS:-} == *soak* ]]; then labels=$LABELS
elif [[ -n ${LABELS:-} ]]; then labels="($LABELS) && !soak"; fi
args+=(--label-filter="$labels")
[[ -n ${FOCUS:-} ]] && args+=(--focus="$FOCUS")
[[ -n ${VERBOSE:-} ]] && args+=(-v)
exec go tool ginkgo "${args[@]}" ./specs
