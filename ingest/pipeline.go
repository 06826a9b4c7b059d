package ingest

import (
	"errors"
	"fmt"
)

// Building a record (normalisation, canonical JSON, SHA-256, PII patterns,
// MinHash) costs far more than reading its row, so the parser hands that
// work to one goroutine per CPU and goes on reading (Parse uses one goroutine per GOMAXPROCS). Results are taken back
// in the order the rows were read: duplicates, problems, counts and emitted
// records are exactly those of a sequential parse, whatever the timing.

// buildJob is one record being built.
type buildJob struct {
	line, part int
	build      func() (Record, error)
	rec        Record
	err        error
	done       chan struct{}
}

// pipeline is the parser's pool of record builders and the queue of jobs
// not yet handled, oldest first.
type pipeline struct {
	work   chan *buildJob
	queue  []*buildJob
	window int
	// handling is set while a result is handled, so that the problems it
	// records do not recurse into flushing the queue.
	handling bool
	// err is the first error handling a result returned (an emit error);
	// the parser stops at the next row.
	err error
}

// startPipeline starts n builders; with fewer than 2 records are built
// in line.
func (p *parser) startPipeline(n int) {
	if n < 2 {
		return
	}
	window := 64 * n
	pl := &pipeline{work: make(chan *buildJob, window), window: window}
	for range n {
		go func() {
			for j := range pl.work {
				j.rec, j.err = j.build()
				close(j.done)
			}
		}()
	}
	p.pl = pl
}

// stopPipeline lets the builders exit; jobs not handled are dropped.
func (p *parser) stopPipeline() {
	if p.pl != nil {
		close(p.pl.work)
		p.pl.queue = nil
	}
}

// submit builds a record for line (and document part) and handles it in
// row order: now without a pipeline, else once the rows before it are
// handled.
func (p *parser) submit(line, part int, build func() (Record, error)) error {
	if p.pl == nil {
		r, err := build()
		return p.handle(line, part, r, err)
	}
	if p.pl.err != nil {
		return p.pl.err
	}
	j := &buildJob{line: line, part: part, build: build, done: make(chan struct{})}
	p.pl.work <- j
	p.pl.queue = append(p.pl.queue, j)
	if len(p.pl.queue) >= p.pl.window {
		return p.handleOldest()
	}
	return nil
}

// handleOldest waits for the oldest job and handles it.
func (p *parser) handleOldest() error {
	j := p.pl.queue[0]
	p.pl.queue[0] = nil
	p.pl.queue = p.pl.queue[1:]
	<-j.done
	p.pl.handling = true
	err := p.handle(j.line, j.part, j.rec, j.err)
	p.pl.handling = false
	if err != nil && p.pl.err == nil {
		p.pl.err = err
	}
	return err
}

// flush handles every queued job, in order. It runs before the parser
// records a problem of its own, so problems stay in line order.
func (p *parser) flush() error {
	if p.pl == nil || p.pl.handling {
		return nil
	}
	for len(p.pl.queue) > 0 {
		if err := p.handleOldest(); err != nil {
			return err
		}
	}
	return p.pl.err
}

// handle records a built record, or the problem that kept it out.
func (p *parser) handle(line, part int, r Record, err error) error {
	if err != nil {
		var pe *ProblemError
		if errors.As(err, &pe) {
			p.reject(line, fmt.Sprintf("Line %d: %s", line, pe.Reason))
			return nil
		}
		return err
	}
	r.Line, r.Part = line, part
	return p.record(r)
}
