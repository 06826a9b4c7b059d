package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestReapOrphans(t *testing.T) {
	// A dead owner: a process that has exited (and been waited for).
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	dead := done.Process.Pid
	// Its "postmaster": a live process the reaper must stop.
	pm := exec.Command("sleep", "60")
	if err := pm.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pm.Wait() }()
	t.Cleanup(func() { _ = pm.Process.Kill() })

	mk := func(owner int, postmaster int) string {
		d, err := os.MkdirTemp("", "mfpg")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if owner != 0 {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(owner)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if postmaster != 0 {
			data := filepath.Join(d, "c", "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, "postmaster.pid"), []byte(strconv.Itoa(postmaster)+"\n/data\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	orphan := mk(dead, pm.Process.Pid)
	mine := mk(os.Getpid(), pm.Process.Pid)
	settingUp := mk(0, 0) // no owner yet, and new

	reapOrphans()

	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphaned cluster directory still there: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the orphan's postmaster is still running")
	}
	for _, d := range []string{mine, settingUp} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was reaped: %v", d, err)
		}
	}
}
