package state

import (
	"errors"
	"os"
	"testing"

	"github.com/kinns/kinns/harness/proc"
)

func TestRecordThenReadInOrder(t *testing.T) {
	root := t.TempDir()
	s, err := Create(root, "lab", Meta{Nodes: 3, Timing: "fast"})
	if err != nil {
		t.Fatal(err)
	}
	in := []Resource{
		{Kind: KindNetns, Name: "lab-fabric"},
		{Kind: KindLink, Name: "fabric0", Netns: "lab-fabric"},
		{Kind: KindProcess, Name: "etcd-1", Process: proc.ID{PID: 7, StartTime: 9}},
	}
	for _, r := range in {
		if err := s.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	// A writer killed mid-line leaves a torn record: it must be ignored.
	f, _ := os.OpenFile(s.Path(journalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"netns","na`)
	f.Close()

	s2, err := Open(root, "lab")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Resources()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d resources, want %d: %v", len(got), len(in), got)
	}
	for i := range in {
		if got[i] != in[i] {
			t.Errorf("resource %d = %v, want %v", i, got[i], in[i])
		}
	}
	m, err := s2.Meta()
	if err != nil || m.Name != "lab" || m.Nodes != 3 {
		t.Errorf("meta = %+v, %v", m, err)
	}
}

func TestCreateTwiceFails(t *testing.T) {
	root := t.TempDir()
	if _, err := Create(root, "lab", Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, "lab", Meta{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if _, err := Open(root, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of unknown lab: %v, want ErrNotFound", err)
	}
	names, _ := List(root)
	if len(names) != 1 || names[0] != "lab" {
		t.Errorf("List = %v", names)
	}
}

func TestTeardownOrder(t *testing.T) {
	rs := []Resource{
		{Kind: KindNetns, Name: "l-fabric"},
		{Kind: KindLink, Name: "fabric0", Netns: "l-fabric"},
		{Kind: KindNetns, Name: "l-node-1"},
		{Kind: KindLink, Name: "node-1", Netns: "l-fabric"},
		{Kind: KindContainerdHolder, Name: "lab-l"},
		{Kind: KindContainerdNamespace, Name: "l-node-1"},
		{Kind: KindProcess, Name: "kubelet", Process: proc.ID{PID: 1, StartTime: 2}},
		{Kind: KindFile, Name: "/tmp/x"},
		{Kind: KindNetns, Name: "l-node-1"}, // recorded twice by a retried step
	}
	want := []string{
		"process kubelet (pid 1)",
		"containerd-namespace l-node-1",
		"containerd-holder lab-l",
		"link node-1 in l-fabric",
		"link fabric0 in l-fabric",
		"netns l-node-1",
		"netns l-fabric",
		"file /tmp/x",
	}
	got := TeardownOrder(rs)
	if len(got) != len(want) {
		t.Fatalf("got %d, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("step %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestTeardownStagesKeepKindsApart(t *testing.T) {
	rs := []Resource{
		{Kind: KindNetns, Name: "a"}, {Kind: KindLink, Name: "l1", Netns: "a"},
		{Kind: KindNetns, Name: "b"}, {Kind: KindLink, Name: "l2", Netns: "b"},
		{Kind: KindProcess, Name: "p"},
	}
	st := TeardownStages(rs)
	if len(st) != 3 || len(st[0]) != 1 || len(st[1]) != 2 || len(st[2]) != 2 {
		t.Fatalf("stages = %v", st)
	}
	if st[0][0].Kind != KindProcess || st[1][0].Kind != KindLink || st[2][0].Kind != KindNetns {
		t.Errorf("stages out of order: %v", st)
	}
}

func TestNestedJournalsAreRead(t *testing.T) {
	root := t.TempDir()
	s, err := Create(root, "lab", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	nested := s.Path("kubelet-node-1.jsonl")
	s.Record(Resource{Kind: KindNetns, Name: "lab-node-1"})
	s.Record(Resource{Kind: KindJournal, Name: nested})
	if err := Append(nested, Resource{Kind: KindNetns, Name: "lab-node-1-ab12"}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Resources()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[2].Name != "lab-node-1-ab12" {
		t.Fatalf("resources = %v", rs)
	}
	order := TeardownOrder(rs)
	if order[0].Name != "lab-node-1-ab12" || order[len(order)-1].Kind != KindJournal {
		t.Errorf("pod namespace must go first among namespaces, the journal last: %v", order)
	}
}
