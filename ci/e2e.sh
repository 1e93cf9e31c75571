#!/usr/bin/env bash
# Runs the Ginkgo end-to-end suites against the lab binary that `make build` made.
#   LABELS='topology'  FOCUS='reaches every host'  ci/e2e.sh
#   PROCS=1 ci/e2e.sh   # one spec at a time
# The soak (label soak) runs only when LABELS asks for it: make soak.
set -euo pipefail
cd "$(dirname "$0")/.."
export KINNS_LAB_BINARY=${KINNS_LAB_BINARY:-$PWD/_output/bin/lab}
export KINNS_TESTAPP=${KINNS_TESTAPP:-$PWD/_output/bin/testapp}
# Reports for CI and people: JUnit and JSON (with each spec's report
# entries: timelines, flows) in _output/, and the logs of every lab whose
# spec failed in _output/failed-labs/<lab>/.
mkdir -p _output
export KINNS_ARTIFACTS=${KINNS_ARTIFACTS:-$PWD/_output}
# Specs run on PROCS Ginkgo processes (default 2): each boots labs of its own,
# and most of a spec's time is waiting on the lab, not CPU. Serial specs
# (the soak) run alone at the end.
args=(-r --procs="${PROCS:-2}" --timeout="${TIMEOUT:-30m}" --poll-progress-after="${POLL_PROGRESS_AFTER:-120s}"
	--output-dir=_output --junit-report=e2e-junit.xml --json-report=e2e.json)
labels='!soak'
if [[ ${LABELS:-} == *soak* ]]; then labels=$LABELS
elif [[ -n ${LABELS:-} ]]; then labels="($LABELS) && !soak"; fi
args+=(--label-filter="$labels")
[[ -n ${FOCUS:-} ]] && args+=(--focus="$FOCUS")
[[ -n ${VERBOSE:-} ]] && args+=(-v)
rm -f _output/e2e.json _output/e2e-junit.xml # a report is this run's or none
rc=0
go tool ginkgo "${args[@]}" ./specs || rc=$?
# A CI log is often read from its tail: end with each failure's gist.
if ((rc != 0)) && [[ -s _output/e2e.json ]]; then
	echo; echo "===== digest of the failures (whole report: _output/e2e.json) ====="
	go run ./ci/digest _output/e2e.json || true
fi
exit "$rc"
