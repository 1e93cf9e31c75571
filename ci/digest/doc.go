// Command digest prints, from Ginkgo's JSON report, a short account of each
// failed spec: where it failed, the first lines of the failure's message,
// and the lab's warning events. ci/e2e.sh prints it last when the suite
// fails, because a CI log is often read from its tail alone.
//
//	go run ./ci/digest _output/e2e.json
package main
