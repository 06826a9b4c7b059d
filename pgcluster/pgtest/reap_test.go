package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestReapHelperProcess stands in for a postmaster: run by TestReapOrphans
// with the data directory on its command line, it sleeps until killed.
func TestReapHelperProcess(t *testing.T) {
	if os.Getenv("MF_REAP_HELPER") == "" {
		t.Skip("helper process for TestReapOrphans")
	}
	time.Sleep(time.Minute)
}

func TestReapOrphans(t *testing.T) {
	// A dead owner: a process that has exited (and been waited for).
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	dead := done.Process.Pid

	mk := func(owner int) (dir, data string) {
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
		data = filepath.Join(d, "c", "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		return d, data
	}
	pidFile := func(data string, pid int) {
		if err := os.WriteFile(filepath.Join(data, "postmaster.pid"), []byte(strconv.Itoa(pid)+"\n"+data+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The orphan: its owner is dead and its "postmaster" runs its data
	// directory (the directory is on the process's command line).
	orphan, orphanData := mk(dead)
	pm := exec.Command(os.Args[0], "-test.run=^TestReapHelperProcess$", "--", "-D", orphanData)
	pm.Env = append(os.Environ(), "MF_REAP_HELPER=1")
	if err := pm.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pm.Wait() }()
	t.Cleanup(func() { _ = pm.Process.Kill() })
	pidFile(orphanData, pm.Process.Pid)
	// A stale orphan: its postmaster.pid names a PID now used by another
	// process (this test): the directory goes, the process must not.
	stale, staleData := mk(dead)
	pidFile(staleData, os.Getpid())
	// Live owners' clusters and directories being set up stay.
	mine, mineData := mk(os.Getpid())
	pidFile(mineData, pm.Process.Pid)
	settingUp, _ := mk(0)

	reapOrphans()

	for _, d := range []string{orphan, stale} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("orphaned cluster directory %s still there: %v", d, err)
		}
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the orphan's postmaster is still running")
	}
	for _, d := range []string{mine, settingUp} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was reaped: %v", d, err)
		}
	}
}
