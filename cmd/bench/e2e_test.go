package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func TestE2ESuiteTime(t *testing.T) {
	whole := types.Report{RunTime: 754 * time.Second, SuiteConfig: types.SuiteConfig{LabelFilter: wholeSuiteLabels}}
	focused := whole
	focused.SuiteConfig.FocusStrings = []string{"every host"}
	labelled := whole
	labelled.SuiteConfig.LabelFilter = "(dns) && !soak"
	for _, tt := range []struct {
		name    string
		reports []types.Report
		want    float64
		err     string
	}{
		{"whole", []types.Report{whole}, 754, ""},
		{"focused", []types.Report{focused}, 0, "focus"},
		{"labelled", []types.Report{labelled}, 0, "labels"},
		{"empty", nil, 0, "no suite"},
	} {
		b, _ := json.Marshal(tt.reports)
		figs, err := e2eFigures("e2e.json", b)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one that says %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || figs["e2e_suite_seconds"] != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, figs, err, tt.want)
		}
	}
}

func TestE2ESuiteWithoutReport(t *testing.T) {
	_, err := e2eSuite(t.TempDir() + "/e2e.json")
	if err == nil || !strings.Contains(err.Error(), "run make e2e first") {
		t.Errorf("error %v, want one that says to run make e2e first", err)
	}
}
