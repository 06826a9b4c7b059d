package llamafactory

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelfactory/modelfactory/trainer"
)

// DefaultCLI is the command run when RunOptions.CLI is empty.
const DefaultCLI = "llamafactory-cli"

// ErrCLINotFound means the llamafactory-cli executable could not be found.
var ErrCLINotFound = errors.New("llamafactory-cli not found on PATH: install LLaMA-Factory on GPU workers or set MF_LLAMAFACTORY_CLI")

// RunOptions say how to run the CLI and where its output goes. Callbacks
// may be nil; they are called from one goroutine at a time except
// OnCheckpoint, which runs on its own goroutine (one call at a time).
type RunOptions struct {
	// CLI is the executable: a path, or a name looked up on PATH
	// (default "llamafactory-cli").
	CLI string
	// Env is added to this process's environment.
	Env []string
	// Grace is how long a cancelled CLI gets between SIGTERM and SIGKILL
	// (default 10 s).
	Grace time.Duration
	// Poll is how often trainer_log.jsonl and checkpoints are looked at
	// (default 250 ms).
	Poll time.Duration
	// OnLog receives each line the CLI prints (stdout and stderr).
	OnLog func(line string)
	// OnProgress receives trainer_log.jsonl lines as events, one per step
	// (a step is reported again when its evaluation line follows).
	OnProgress func(trainer.Event)
	// OnCheckpoint receives each completed checkpoint-N directory (a
	// private snapshot that stays valid while the call runs, even if the
	// CLI rotates the original away). When checkpoints complete faster
	// than they are handled, only the newest waiting one is handled.
	OnCheckpoint func(ctx context.Context, dir string, step int) error
}

// Result is what a successful run produced.
type Result struct {
	OutputDir string
	// AdapterDir holds adapter_model.safetensors and adapter_config.json
	// (LoRA runs; "" for full fine-tunes).
	AdapterDir string
	// ModelDir holds the fully fine-tuned model (full runs; "" for LoRA).
	ModelDir string
	// Metrics are the numbers in all_results.json (train_loss, eval_loss,
	// train_runtime, …).
	Metrics map[string]float64
	// EarlyStopped reports that training ended before max_steps without
	// being cancelled (trainer_state.json's global_step < max_steps).
	EarlyStopped bool
	GlobalStep   int
	MaxSteps     int
}

// tailLines keeps the last lines the CLI printed, for error messages.
const tailLines = 30

// Run executes `CLI train CONFIG.yaml` for a prepared job and waits for it.
// Cancelling ctx sends SIGTERM to the CLI's whole process group and
// SIGKILL after the grace period; Run then returns ctx's error. A non-zero
// exit returns an error holding the last lines the CLI printed.
func Run(ctx context.Context, job *Job, opts RunOptions) (*Result, error) {
	if opts.CLI == "" {
		opts.CLI = DefaultCLI
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	path, err := exec.LookPath(opts.CLI)
	if err != nil {
		if opts.CLI == DefaultCLI {
			return nil, ErrCLINotFound
		}
		return nil, fmt.Errorf("llamafactory-cli %q not found or not executable (MF_LLAMAFACTORY_CLI): %w", opts.CLI, err)
	}
	if err := os.MkdirAll(job.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("llamafactory: %w", err)
	}
	cmd := exec.Command(path, "train", job.ConfigPath)
	cmd.Dir = job.WorkDir
	cmd.Env = append(os.Environ(), opts.Env...)
	setProcessGroup(cmd)
	// One pipe for stdout and stderr keeps their order. It is an *os.File,
	// so Wait returns when the CLI exits even if a stray child still holds
	// the pipe open.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("llamafactory: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	logs := &logTail{fn: opts.OnLog}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("llamafactory: start %s: %w", path, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		logs.read(pr)
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		select {
		case <-readDone:
		case <-time.After(5 * time.Second):
			// Children left running hold the output open: stop them.
			killGroup(cmd)
			select {
			case <-readDone:
			case <-time.After(time.Second):
			}
		}
		pr.Close()
		close(exited)
	}()

	// Cancellation: SIGTERM to the group, SIGKILL after the grace period.
	go func() {
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		terminateGroup(cmd)
		select {
		case <-exited:
		case <-time.After(opts.Grace):
			killGroup(cmd)
		}
	}()

	ckpt := newCheckpointWatcher(job.OutputDir, filepath.Join(job.WorkDir, "checkpoint-snapshots"), opts.OnCheckpoint, logs.add)
	uploadCtx, stopUploads := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUploads()
	go ckpt.uploader(uploadCtx)
	progress := &evalHold{every: job.EvalSteps, fn: opts.OnProgress}
	tail := trainer.NewProgressTail(filepath.Join(job.OutputDir, trainer.ProgressLogFile), progress.add)
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	running := true
	for running {
		select {
		case <-exited:
			running = false
		case <-tick.C:
		}
		if err := tail.Poll(); err != nil {
			logs.add("reading progress: " + err.Error())
		}
		ckpt.scan(!running)
	}
	progress.flush()
	cancelled := ctx.Err() != nil
	if cancelled {
		stopUploads()
	}
	ckpt.close()

	if cancelled {
		return nil, fmt.Errorf("llamafactory: training cancelled: %w", ctx.Err())
	}
	if waitErr != nil {
		return nil, fmt.Errorf("llamafactory-cli train failed (%v); last output:\n%s", waitErr, logs.last())
	}
	res, err := collect(job)
	if err != nil {
		return nil, fmt.Errorf("%w; last output:\n%s", err, logs.last())
	}
	return res, nil
}

// evalHold delays the training line of an evaluation step until the
// step's evaluation line arrives, so that the step is reported once with
// both losses (consumers that keep the first event per step would
// otherwise miss the evaluation). Other steps pass straight through.
type evalHold struct {
	every int
	fn    func(trainer.Event)
	held  *trainer.Event
}

func (h *evalHold) add(ev trainer.Event) {
	if h.fn == nil {
		return
	}
	if h.held != nil {
		held := *h.held
		h.held = nil
		if ev.Step != held.Step {
			h.fn(held)
		}
	}
	if h.every > 0 && ev.Step > 0 && ev.Step%h.every == 0 && ev.EvalLoss == nil && ev.Loss != nil {
		h.held = &ev
		return
	}
	h.fn(ev)
}

func (h *evalHold) flush() {
	if h.held != nil && h.fn != nil {
		h.fn(*h.held)
	}
	h.held = nil
}

// logTail forwards output lines and keeps the last few.
type logTail struct {
	mu    sync.Mutex
	fn    func(string)
	lines []string
}

func (l *logTail) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	var lastFrame time.Time
	cr := false // the line so far ended with a carriage return
	for {
		b, err := br.ReadByte()
		if cr && (err != nil || b != '\n') {
			// A progress bar redrew the line: pass on at most one frame
			// every progressFrameEvery.
			if len(line) > 0 && time.Since(lastFrame) >= progressFrameEvery {
				lastFrame = time.Now()
				l.add(string(line))
			}
			line, cr = line[:0], false
		}
		if err != nil {
			if len(line) > 0 {
				l.add(string(line))
			}
			return
		}
		switch {
		case b == '\n':
			l.add(string(line))
			line, cr = line[:0], false
		case b == '\r':
			cr = true
		case len(line) < maxLineBytes:
			line = append(line, b)
		}
	}
}

// A line longer than maxLineBytes is cut; carriage-return frames of a
// progress bar are forwarded at most every progressFrameEvery.
const (
	maxLineBytes       = 4 << 10
	progressFrameEvery = 5 * time.Second
)

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > tailLines {
		l.lines = l.lines[len(l.lines)-tailLines:]
	}
	if l.fn != nil {
		l.fn(line)
	}
}

func (l *logTail) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// checkpointWatcher finds completed checkpoint-N directories and hands the
// newest to the uploader.
type checkpointWatcher struct {
	dir, snapDir string
	fn           func(ctx context.Context, dir string, step int) error
	log          func(string)
	last         int                  // newest step handed over
	seen         map[string]dirDigest // candidate → listing at the previous scan
	pending      chan snapshot
	done         chan struct{}
}

type snapshot struct {
	dir  string
	step int
}

type dirDigest string

func newCheckpointWatcher(dir, snapDir string, fn func(context.Context, string, int) error, log func(string)) *checkpointWatcher {
	return &checkpointWatcher{dir: dir, snapDir: snapDir, fn: fn, log: log, last: -1, seen: map[string]dirDigest{},
		pending: make(chan snapshot, 1), done: make(chan struct{})}
}

// scan looks for checkpoint directories newer than the last one handed
// over. A directory counts as complete once it holds trainer_state.json
// (Hugging Face writes it after the weights and optimizer state) and its
// listing did not change since the previous scan — or at once when the
// CLI has exited (final).
func (w *checkpointWatcher) scan(final bool) {
	if w.fn == nil {
		return
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return
	}
	type cand struct {
		name string
		step int
	}
	var cands []cand
	for _, e := range entries {
		if step, ok := checkpointStep(e.Name()); ok && e.IsDir() && step > w.last {
			cands = append(cands, cand{e.Name(), step})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].step > cands[j].step })
	for _, c := range cands {
		path := filepath.Join(w.dir, c.name)
		if _, err := os.Stat(filepath.Join(path, "trainer_state.json")); err != nil {
			continue
		}
		d := digest(path)
		prev, ok := w.seen[c.name]
		w.seen[c.name] = d
		if !final && (!ok || prev != d) {
			continue
		}
		snap := filepath.Join(w.snapDir, c.name)
		if err := snapshotDir(path, snap); err != nil {
			w.log(fmt.Sprintf("checkpoint %d: %v", c.step, err))
			return
		}
		w.last = c.step
		for name := range w.seen {
			if s, _ := checkpointStep(name); s <= c.step {
				delete(w.seen, name)
			}
		}
		// Replace a snapshot still waiting: only the newest matters.
		select {
		case old := <-w.pending:
			os.RemoveAll(old.dir)
		default:
		}
		w.pending <- snapshot{snap, c.step}
		return
	}
}

// uploader hands snapshots to the callback one at a time.
func (w *checkpointWatcher) uploader(ctx context.Context) {
	defer close(w.done)
	for s := range w.pending {
		if ctx.Err() == nil {
			if err := w.fn(ctx, s.dir, s.step); err != nil {
				w.log(fmt.Sprintf("checkpoint %d not saved: %v", s.step, err))
			}
		}
		os.RemoveAll(s.dir)
	}
}

// close waits for the uploads still pending.
func (w *checkpointWatcher) close() {
	close(w.pending)
	<-w.done
}

// digest summarises a directory's file names and sizes.
func digest(dir string) dirDigest {
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			fmt.Fprintf(&b, "%s:%d:%d;", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return dirDigest(b.String())
}

// snapshotDir copies dir's regular files to dst as hard links (copies
// where links are impossible), so rotation of the original cannot break
// an upload in progress.
func snapshotDir(src, dst string) error {
	os.RemoveAll(dst)
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if os.Link(p, target) == nil {
			return nil
		}
		// Another file system: copy, streaming (checkpoints can be large).
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errors.Join(err, out.Close())
	})
}

// collect checks the outputs of a finished run.
func collect(job *Job) (*Result, error) {
	res := &Result{OutputDir: job.OutputDir, Metrics: map[string]float64{}}
	have := func(name string) bool {
		_, err := os.Stat(filepath.Join(job.OutputDir, name))
		return err == nil
	}
	if job.Method == "lora" {
		if !have("adapter_model.safetensors") || !have("adapter_config.json") {
			return nil, fmt.Errorf("llamafactory: %s lacks adapter_model.safetensors or adapter_config.json", job.OutputDir)
		}
		res.AdapterDir = job.OutputDir
	} else {
		if !have("config.json") || !(have("model.safetensors") || have("model.safetensors.index.json")) {
			return nil, fmt.Errorf("llamafactory: %s lacks config.json and model safetensors", job.OutputDir)
		}
		res.ModelDir = job.OutputDir
	}
	if b, err := os.ReadFile(filepath.Join(job.OutputDir, "all_results.json")); err == nil {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("llamafactory: all_results.json: %w", err)
		}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				res.Metrics[k] = f
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(job.OutputDir, "trainer_state.json")); err == nil {
		var st struct {
			GlobalStep int `json:"global_step"`
			MaxSteps   int `json:"max_steps"`
		}
		if err := json.Unmarshal(b, &st); err == nil {
			res.GlobalStep, res.MaxSteps = st.GlobalStep, st.MaxSteps
			res.EarlyStopped = st.MaxSteps > 0 && st.GlobalStep < st.MaxSteps
		}
	}
	return res, nil
}
