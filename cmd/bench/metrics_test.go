package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoalVerdict(t *testing.T) {
	figs := Figures{"floor": 2}
	for _, tt := range []struct {
		goal Goal
		v    float64
		want string
	}{
		{atMost(2), 2, "met"},
		{atMost(2), 2.01, "missed"},
		{atLeast(300), 299, "missed"},
		{atLeast(300), 300, "met"},
		{report, 1e9, "report"},
		{Goal{Op: "<=", Bound: 1.5, Times: "floor"}, 3, "met"},
		{Goal{Op: "<=", Bound: 1.5, Times: "floor"}, 3.1, "missed"},
		{Goal{Op: "<=", Bound: 1.5, Times: "absent"}, 0, "no floor"},
	} {
		if got := tt.goal.verdict(tt.v, figs); got != tt.want {
			t.Errorf("%s with %v: %q, want %q", tt.goal, tt.v, got, tt.want)
		}
	}
}

func TestTableNamesAreUniqueAndFloorsAreRows(t *testing.T) {
	rows := map[string]bool{}
	for _, r := range table {
		if rows[r.Name] {
			t.Errorf("%s twice", r.Name)
		}
		rows[r.Name] = true
	}
	for _, r := range table {
		for _, ref := range []string{r.Floor, r.Goal.Times} {
			if ref != "" && !rows[ref] {
				t.Errorf("%s refers to %s, which is no row", r.Name, ref)
			}
		}
	}
}

func TestMissingFigureShowsWhyAndStaysOutOfJSON(t *testing.T) {
	r := newResult()
	r.add(Figures{"pod_startup_p99_seconds": 0.8, "ctr_run_p99_seconds": 0.5, "extra_seconds": 1, "nan": math.NaN()})
	r.fail([]string{"dns_p99_seconds", "pod_startup_p99_seconds"}, errors.New("the pod never ran"))
	var out bytes.Buffer
	if err := printTable(&out, table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"not measured: the pod never ran", // dns_p99_seconds, failed
		"not measured: " + notWritten,     // self_heal_seconds, no scenario
		"0.8 s",                           // pod start-up kept: it had a figure
		"0.5 s: ctr_run_p99_seconds",      // its floor
		"extra_seconds",                   // a figure the table does not name
		"nan",                             // a non-finite value is shown as missing
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	path := filepath.Join(t.TempDir(), "out", "bench.json")
	if err := writeJSON(path, r.Figures); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var got map[string]float64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not a flat object of numbers: %v\n%s", err, b)
	}
	want := map[string]float64{"pod_startup_p99_seconds": 0.8, "ctr_run_p99_seconds": 0.5, "extra_seconds": 1}
	if len(got) != len(want) {
		t.Errorf("JSON %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("JSON %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 30)
	for i := range v {
		v[i] = float64(30 - i)
	}
	if got := percentile(v, 0.99); got != 30 {
		t.Errorf("p99 of 1..30: %v, want 30", got)
	}
	if got := percentile(v, 0.5); got != 15 {
		t.Errorf("p50 of 1..30: %v, want 15", got)
	}
	if got := median([]float64{5, 1, 3, 2, 4}); got != 3 {
		t.Errorf("median: %v, want 3", got)
	}
	if got := num(5935.08); got != "5935" {
		t.Errorf("num(5935.08) = %q", got)
	}
	if got := num(0.093699); got != "0.0937" {
		t.Errorf("num(0.093699) = %q", got)
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("percentile of nothing is a number")
	}
}
