package pgtest

import (
	"bytes"
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
// anyway) and the directory is deleted. A directory without an owner file
// (being set up right now, or made before owners were recorded) is left
// alone unless it is a minute old (the owner file is written right after
// the directory is made), holds nothing or a cluster, and no postmaster
// runs in it.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "mfpg*"))
	for _, d := range dirs {
		data := filepath.Join(d, "c", "data")
		pm, running, ok := postmasterOf(data)
		if !ok {
			continue // a postmaster we may not signal: not ours to reap
		}
		if owner, err := readPID(filepath.Join(d, ownerFile)); err == nil {
			if alive(owner) {
				continue
			}
		} else if !legacyLeftover(d, data) || running {
			continue
		}
		if running {
			_ = syscall.Kill(pm, syscall.SIGQUIT)
			for deadline := time.Now().Add(10 * time.Second); alive(pm) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		// As root the cluster lives where the postgres user can reach it
		// and d/c is a link to it: delete both.
		if target, err := filepath.EvalSymlinks(filepath.Join(d, "c")); err == nil && target != filepath.Join(d, "c") {
			_ = os.RemoveAll(target)
		}
		_ = os.RemoveAll(d)
	}
}

// postmasterOf reads data/postmaster.pid and reports the postmaster's PID
// and whether that process is running this data directory (a PID from a
// stale file may belong to anything by now: its command line must name the
// data directory the file records). ok is false when the process exists
// but this user may not signal it.
func postmasterOf(data string) (pid int, running, ok bool) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, false, true
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 || len(lines) < 2 {
		return 0, false, true
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.EPERM) {
		return pid, false, false
	} else if err != nil {
		return pid, false, true
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	dataDir := strings.TrimSpace(lines[1])
	return pid, err == nil && dataDir != "" && bytes.Contains(cmdline, []byte(dataDir)), true
}

// legacyLeftover says d, which has no owner file, is an old pgtest
// directory: a minute old and empty or holding a cluster.
func legacyLeftover(d, data string) bool {
	fi, err := os.Stat(d)
	if err != nil || time.Since(fi.ModTime()) < time.Minute {
		return false
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return false
	}
	if len(entries) == 0 {
		return true
	}
	_, err = os.Stat(filepath.Join(data, "PG_VERSION"))
	return err == nil
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
