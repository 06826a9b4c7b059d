package trainer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Lines as LLaMA-Factory's LogCallback writes them (json.dumps separators,
// None fields left out): a training step, the evaluation of the same step,
// and the closing summary line.
const lfTrain = `{"current_steps": 10, "total_steps": 20, "loss": 2.5, "lr": 5e-05, "epoch": 0.5, "percentage": 50.0, "elapsed_time": "0:01:02", "remaining_time": "1 day, 0:01:02", "throughput": 812.5, "total_tokens": 5120}`
const lfEval = `{"current_steps": 10, "total_steps": 20, "eval_loss": 2.75, "epoch": 0.5, "percentage": 50.0, "elapsed_time": "0:01:05", "remaining_time": "0:01:05"}`
const lfEnd = `{"current_steps": 20, "total_steps": 20, "epoch": 1.0, "percentage": 100.0, "elapsed_time": "0:02:00", "remaining_time": "0:00:00"}`

func TestParseProgressLineLlamaFactory(t *testing.T) {
	ev, err := ParseProgressLine([]byte(lfTrain))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Step != 10 || ev.TotalSteps != 20 || ev.Loss == nil || *ev.Loss != 2.5 || ev.EvalLoss != nil ||
		ev.LR != 5e-05 || ev.Epoch != 0.5 || ev.Percentage != 50 || ev.TokensPerSec != 812.5 {
		t.Fatalf("parsed %+v", ev)
	}
	if ev.Elapsed != 62*time.Second || ev.Remaining != 24*time.Hour+62*time.Second {
		t.Fatalf("durations %v %v", ev.Elapsed, ev.Remaining)
	}
	ev, err = ParseProgressLine([]byte(lfEval))
	if err != nil || ev.Loss != nil || ev.EvalLoss == nil || *ev.EvalLoss != 2.75 || ev.LR != 0 {
		t.Fatalf("eval line: %+v, %v", ev, err)
	}
	for _, bad := range []string{`{"total_steps": 3}`, `{"current_steps": "x"}`, `not json`,
		`{"current_steps": 1, "elapsed_time": "soon"}`, `{"current_steps": -1}`, `{"current_steps": 1}{}`} {
		if _, err := ParseProgressLine([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Our own JSONLines output parses back to the same event.
func TestParseProgressLineRoundTrip(t *testing.T) {
	loss, el := 1.25, 1.5
	in := Event{Step: 7, TotalSteps: 9, Loss: &loss, EvalLoss: &el, LR: 3e-4, Epoch: 1.75, Percentage: 77.78,
		ElapsedTime: hms(3723 * time.Second), RemainingTime: hms(5 * time.Second), TokensPerSec: 1234.5,
		Elapsed: 3723 * time.Second, Remaining: 5 * time.Second}
	var b bytes.Buffer
	JSONLines(&b)(in)
	out, err := ParseProgressLine(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if out.Step != in.Step || *out.Loss != loss || *out.EvalLoss != el || out.LR != in.LR || out.Epoch != in.Epoch ||
		out.Percentage != in.Percentage || out.TokensPerSec != in.TokensPerSec || out.Elapsed != in.Elapsed ||
		out.Remaining != in.Remaining || out.ElapsedTime != "1:02:03" {
		t.Fatalf("round trip: %+v → %+v", in, out)
	}
}

func TestProgressMergerOneEventPerStep(t *testing.T) {
	var m ProgressMerger
	var got []Event
	for _, l := range []string{lfTrain, lfEval, lfEnd} {
		ev, err := ParseProgressLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if out, ok := m.Add(ev); ok {
			got = append(got, out)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3 (train, train+eval, end)", len(got))
	}
	merged := got[1]
	if merged.Step != 10 || merged.Loss == nil || *merged.Loss != 2.5 || merged.EvalLoss == nil || *merged.EvalLoss != 2.75 ||
		merged.LR != 5e-05 || merged.TokensPerSec != 812.5 || merged.Elapsed != 65*time.Second {
		t.Fatalf("merged %+v", merged)
	}
	if got[2].Step != 20 || got[2].Percentage != 100 {
		t.Fatalf("end %+v", got[2])
	}
	// A summary line for a step already reported adds nothing.
	if _, ok := m.Add(got[2]); ok {
		t.Fatal("repeated step without losses was reported")
	}
}

// The tail reads a file while it grows, waits for a line's newline, and
// merges the evaluation into its step.
func TestProgressTailGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ProgressLogFile)
	var got []Event
	var bad []string
	tail := NewProgressTail(path, func(ev Event) { got = append(got, ev) })
	tail.OnBadLine = func(line string, err error) { bad = append(bad, line) }
	if err := tail.Poll(); err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v %d", err, len(got))
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(lfTrain[:40])
	if err := tail.Poll(); err != nil || len(got) != 0 {
		t.Fatalf("half a line was reported: %v %d", err, len(got))
	}
	write(lfTrain[40:] + "\n" + lfEval)
	if err := tail.Poll(); err != nil || len(got) != 1 || got[0].Loss == nil || got[0].EvalLoss != nil {
		t.Fatalf("after one full line: %v %+v", err, got)
	}
	write("\ngarbage\n\n" + lfEnd + "\n")
	if err := tail.Poll(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].EvalLoss == nil || *got[1].EvalLoss != 2.75 || got[1].Loss == nil || got[2].Step != 20 {
		t.Fatalf("events %+v", got)
	}
	if len(bad) != 1 || bad[0] != "garbage" {
		t.Fatalf("bad lines %q", bad)
	}
	// Rewritten from the start (a new run in the same directory).
	if err := os.WriteFile(path, []byte(lfTrain+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tail.Poll(); err != nil || len(got) != 4 || got[3].Step != 10 {
		t.Fatalf("after rewrite: %v %d", err, len(got))
	}
}

func TestParseHMS(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0:00:00": 0, "0:00:43": 43 * time.Second,
		"12:03:07": 12*time.Hour + 3*time.Minute + 7*time.Second, "2 days, 1:00:00": 49 * time.Hour} {
		if got, err := ParseHMS(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"1:2", "x:00:00", "2 weeks, 0:00:00", "-1:00:00"} {
		if _, err := ParseHMS(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
