package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// wholeSuiteLabels is the label filter of a plain `make e2e` (ci/e2e.sh).
const wholeSuiteLabels = "!soak"

// e2eSuite reads how long the last `make e2e` took from its Ginkgo JSON
// report. A report of a focused or filtered run is not the whole suite.
func e2eSuite(path string) (Figures, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run make e2e first (no %s)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read the e2e report: %w", err)
	}
	return e2eFigures(path, b)
}

func e2eFigures(path string, b []byte) (Figures, error) {
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return nil, fmt.Errorf("read the e2e report %s: %w", path, err)
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("the e2e report %s holds no suite; run make e2e first", path)
	}
	var total float64
	for _, r := range reports {
		if why := partial(r.SuiteConfig); why != "" {
			return nil, fmt.Errorf("%s is of a partial run (%s); run the whole make e2e first", path, why)
		}
		total += r.RunTime.Seconds()
	}
	return Figures{"e2e_suite_seconds": total}, nil
}

// partial says how a run was narrowed, or "" for the whole suite.
func partial(c types.SuiteConfig) string {
	var why []string
	if len(c.FocusStrings)+len(c.FocusFiles) > 0 {
		why = append(why, fmt.Sprintf("focus %q", append(c.FocusStrings, c.FocusFiles...)))
	}
	if len(c.SkipStrings)+len(c.SkipFiles) > 0 {
		why = append(why, fmt.Sprintf("skip %q", append(c.SkipStrings, c.SkipFiles...)))
	}
	if c.LabelFilter != wholeSuiteLabels {
		why = append(why, fmt.Sprintf("labels %q", c.LabelFilter))
	}
	if c.DryRun {
		why = append(why, "dry run")
	}
	return strings.Join(why, ", ")
}
