package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProgressLogFile is the name of the progress log in a run's output
// directory, as LLaMA-Factory names it (its constant TRAINER_LOG).
const ProgressLogFile = "trainer_log.jsonl"

// progressLine is a trainer_log.jsonl line as LLaMA-Factory's LogCallback
// writes it (None values are left out, so every field is optional) plus
// our tokens_per_sec.
type progressLine struct {
	CurrentSteps  *int     `json:"current_steps"`
	TotalSteps    int      `json:"total_steps"`
	Loss          *float64 `json:"loss"`
	EvalLoss      *float64 `json:"eval_loss"`
	LR            *float64 `json:"lr"`
	Epoch         *float64 `json:"epoch"`
	Percentage    *float64 `json:"percentage"`
	ElapsedTime   string   `json:"elapsed_time"`
	RemainingTime string   `json:"remaining_time"`
	TokensPerSec  *float64 `json:"tokens_per_sec"`
	Throughput    *float64 `json:"throughput"` // LLaMA-Factory: input tokens seen / elapsed seconds
}

// ParseProgressLine reads one line of a trainer_log.jsonl — written by
// LLaMA-Factory's LogCallback or by JSONLines — into an Event. Lines may
// lack any field but current_steps: LLaMA-Factory writes evaluations as
// lines of their own (eval_loss without loss or lr) and ends training with
// a line carrying neither. Elapsed and Remaining are parsed from the
// Python timedelta strings ("1:02:03", "2 days, 1:02:03").
func ParseProgressLine(line []byte) (Event, error) {
	var pl progressLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&pl); err != nil {
		return Event{}, fmt.Errorf("progress line: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("progress line: more than one JSON value")
	}
	if pl.CurrentSteps == nil {
		return Event{}, errors.New("progress line: no current_steps")
	}
	ev := Event{Step: *pl.CurrentSteps, TotalSteps: pl.TotalSteps, Loss: finite(pl.Loss), EvalLoss: finite(pl.EvalLoss),
		ElapsedTime: pl.ElapsedTime, RemainingTime: pl.RemainingTime}
	if ev.Step < 0 || ev.TotalSteps < 0 {
		return Event{}, errors.New("progress line: negative step count")
	}
	if pl.LR != nil {
		ev.LR = *pl.LR
	}
	if pl.Epoch != nil {
		ev.Epoch = *pl.Epoch
	}
	switch {
	case pl.Percentage != nil:
		ev.Percentage = *pl.Percentage
	case ev.TotalSteps > 0:
		ev.Percentage = math.Round(10000*float64(ev.Step)/float64(ev.TotalSteps)) / 100
	}
	switch {
	case pl.TokensPerSec != nil:
		ev.TokensPerSec = *pl.TokensPerSec
	case pl.Throughput != nil:
		ev.TokensPerSec = *pl.Throughput
	}
	var err error
	if ev.Elapsed, err = ParseHMS(pl.ElapsedTime); err != nil {
		return Event{}, fmt.Errorf("progress line: elapsed_time: %w", err)
	}
	if ev.Remaining, err = ParseHMS(pl.RemainingTime); err != nil {
		return Event{}, fmt.Errorf("progress line: remaining_time: %w", err)
	}
	return ev, nil
}

// finite drops NaN and infinite losses (JSON cannot carry them anyway, but
// a line may hold a huge number that overflowed to Inf).
func finite(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return p
}

// ParseHMS parses Python's str(timedelta) for whole seconds ("0:00:43",
// "12:03:07", "1 day, 2:03:04", "3 days, 0:00:00"); "" is zero.
func ParseHMS(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var days int
	if d, rest, ok := strings.Cut(s, ","); ok {
		n, unit, _ := strings.Cut(strings.TrimSpace(d), " ")
		v, err := strconv.Atoi(n)
		if err != nil || (unit != "day" && unit != "days") {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		days, s = v, strings.TrimSpace(rest)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	var hms [3]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		hms[i] = v
	}
	secs := float64(days)*86400 + hms[0]*3600 + hms[1]*60 + hms[2]
	return time.Duration(secs * float64(time.Second)), nil
}

// ProgressMerger turns a stream of parsed trainer_log.jsonl lines into
// progress events with one event per step: LLaMA-Factory logs the
// training loss of step N and, on evaluation steps, a second line with the
// evaluation loss of the same step N. The merger reports the training line
// at once and, when the evaluation line follows, reports the step again
// with both losses — so a consumer stores events by step and replaces an
// earlier one (finetune_events keeps one progress row per step). Lines
// that add nothing to the step already reported (LLaMA-Factory's closing
// summary line) are not reported.
type ProgressMerger struct {
	last Event
	have bool
}

// Add returns the event to report for ev and whether there is one.
func (m *ProgressMerger) Add(ev Event) (Event, bool) {
	if !m.have || ev.Step != m.last.Step {
		m.last, m.have = ev, true
		return ev, true
	}
	if ev.Loss == nil && ev.EvalLoss == nil {
		return Event{}, false
	}
	merged := m.last
	if ev.Loss != nil {
		merged.Loss, merged.LR = ev.Loss, ev.LR
	}
	if ev.EvalLoss != nil {
		merged.EvalLoss = ev.EvalLoss
	}
	if ev.TotalSteps > 0 {
		merged.TotalSteps = ev.TotalSteps
	}
	if ev.Epoch > 0 {
		merged.Epoch = ev.Epoch
	}
	if ev.TokensPerSec > 0 {
		merged.TokensPerSec = ev.TokensPerSec
	}
	merged.Percentage = ev.Percentage
	merged.Elapsed, merged.ElapsedTime = ev.Elapsed, ev.ElapsedTime
	merged.Remaining, merged.RemainingTime = ev.Remaining, ev.RemainingTime
	m.last = merged
	return merged, true
}

// ProgressTail follows a trainer_log.jsonl that another process is still
// writing: each Poll reads the complete lines appended since the previous
// one (a line still being written waits for its newline), parses them with
// ParseProgressLine, merges them per step (ProgressMerger) and calls
// OnEvent. The file may not exist yet; a file that shrinks (rewritten from
// the start) is read again from its beginning.
type ProgressTail struct {
	Path    string
	OnEvent func(Event)
	// OnBadLine, when set, receives lines that do not parse; they are
	// skipped either way.
	OnBadLine func(line string, err error)

	off     int64
	partial []byte
	merger  ProgressMerger
	buf     []byte
}

// NewProgressTail returns a tail of path that reports to fn.
func NewProgressTail(path string, fn func(Event)) *ProgressTail {
	return &ProgressTail{Path: path, OnEvent: fn}
}

// Poll reads what was appended since the last call. A missing file is not
// an error (the writer has not started yet).
func (t *ProgressTail) Poll() error {
	f, err := os.Open(t.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("progress log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("progress log: %w", err)
	}
	if st.Size() < t.off {
		t.off, t.partial = 0, nil
	}
	if st.Size() == t.off {
		return nil
	}
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return fmt.Errorf("progress log: %w", err)
	}
	if t.buf == nil {
		t.buf = make([]byte, 64<<10)
	}
	for {
		n, rerr := f.Read(t.buf)
		t.off += int64(n)
		t.consume(t.buf[:n])
		if rerr == io.EOF || n == 0 {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("progress log: %w", rerr)
		}
	}
}

func (t *ProgressTail) consume(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.partial = append(t.partial, b...)
			return
		}
		line := b[:i]
		if len(t.partial) > 0 {
			line = append(t.partial, line...)
			t.partial = nil
		}
		b = b[i+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := ParseProgressLine(line)
		if err != nil {
			if t.OnBadLine != nil {
				t.OnBadLine(string(line), err)
			}
			continue
		}
		if out, ok := t.merger.Add(ev); ok && t.OnEvent != nil {
			t.OnEvent(out)
		}
	}
}

// Follow polls every interval until ctx is done, then polls once more so
// that lines written just before the end are not lost. It returns nil when
// ctx ends (the caller knows why) and a read error otherwise.
func (t *ProgressTail) Follow(ctx context.Context, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := t.Poll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return t.Poll()
		case <-tick.C:
		}
	}
}
