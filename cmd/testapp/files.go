package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// runID prints the process' identity as `id -n` would without names:
// "uid=1000 gid=3000 groups=2000,3000" (groups sorted as the kernel keeps
// them).
func runID(stdout, stderr io.Writer) int {
	groups, err := os.Getgroups()
	if err != nil {
		fmt.Fprintf(stderr, "testapp: id: %v\n", err)
		return 1
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = strconv.Itoa(g)
	}
	fmt.Fprintf(stdout, "uid=%d gid=%d groups=%s\n", os.Getuid(), os.Getgid(), strings.Join(parts, ","))
	return 0
}

// runWrite writes TEXT to FILE, creating it (mode 0666 less the umask).
func runWrite(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintf(stderr, "testapp: write takes FILE and TEXT\n%s", usage)
		return 2
	}
	if err := os.WriteFile(args[0], []byte(args[1]), 0o666); err != nil {
		fmt.Fprintf(stderr, "testapp: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", args[0])
	return 0
}

// runStat prints "PATH MODE uid=U gid=G" for each path, MODE as ls shows
// it ("dgrwxrwxrwx" is Go's; "drwxrwsrwx" here).
func runStat(paths []string, stdout, stderr io.Writer) int {
	status := 0
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			fmt.Fprintf(stderr, "testapp: stat %s: %v\n", p, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s %s uid=%d gid=%d\n", p, lsMode(st.Mode), st.Uid, st.Gid)
	}
	return status
}

// lsMode renders a stat mode as ls -l does.
func lsMode(m uint32) string {
	b := []byte("-rwxrwxrwx")
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		b[0] = 'd'
	case syscall.S_IFLNK:
		b[0] = 'l'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(bit uint32, at int, set, setNoExec byte) {
		if m&bit == 0 {
			return
		}
		if b[at] == '-' {
			b[at] = setNoExec
		} else {
			b[at] = set
		}
	}
	special(syscall.S_ISUID, 3, 's', 'S')
	special(syscall.S_ISGID, 6, 's', 'S')
	special(syscall.S_ISVTX, 9, 't', 'T')
	return string(b)
}
