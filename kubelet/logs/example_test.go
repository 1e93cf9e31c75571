package logs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kinns/kinns/kubelet/logs"
)

func Example() {
	dir, _ := os.MkdirTemp("", "logs-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app", "0.log")

	w, err := logs.Create(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprint(w.Stream("stdout"), "hello\nwor")
	fmt.Fprint(w.Stream("stdout"), "ld\n")
	fmt.Fprint(w.Stream("stderr"), "oops\n")
	w.Close()

	tail := int64(2)
	if err := logs.Read(context.Background(), path, logs.Options{TailLines: &tail}, os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// world
	// oops
}
