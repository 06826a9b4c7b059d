package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ownerFile names, inside a test cluster's directory, the PID of the test
// process that owns it.
const ownerFile = "owner"

// reapOrphans stops and deletes the clusters of earlier test processes
// that died without cleaning up (a panic, a kill, a timeout skip Main's
// cleanup, and pg_ctl's postmaster outlives its test): each cluster
// directory records its owner's PID, and when that process is gone its
// postmaster gets an immediate shutdown (SIGQUIT: the data is thrown away
// anyway) and the directory is deleted. Directories without an owner file
// (being set up right now, or made before owners were recorded) are left
// alone unless no postmaster runs in them and they are a minute old (the
// owner file is written right after the directory is made).
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "mfpg*"))
	for _, d := range dirs {
		pm, pmErr := readPID(filepath.Join(d, "c", "data", "postmaster.pid"))
		owner, err := readPID(filepath.Join(d, ownerFile))
		if err != nil {
			fi, serr := os.Stat(d)
			if serr != nil || time.Since(fi.ModTime()) < time.Minute || pmErr == nil && alive(pm) {
				continue
			}
		} else if alive(owner) {
			continue
		}
		if pmErr == nil && alive(pm) {
			_ = syscall.Kill(pm, syscall.SIGQUIT)
			for deadline := time.Now().Add(10 * time.Second); alive(pm) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		_ = os.RemoveAll(d)
	}
}

// readPID reads the process ID on the first line of path.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err == nil && pid <= 0 {
		err = errors.New("bad pid")
	}
	return pid, err
}

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
