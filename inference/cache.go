package inference

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"
)

// entry is one loaded (or loading) base or adapter.
type entry struct {
	key   string
	size  int64
	refs  int
	elem  *list.Element
	ready chan struct{} // closed when loading ends
	err   error         // loading failed (the entry is already out of the cache)
	value any
	free  func() // releases the value's resources; may be nil
}

// lru keeps loaded entries under a memory budget, least recently used at
// the back. Loads of one key are shared: later callers wait for the first.
type lru struct {
	mu        sync.Mutex
	budget    int64
	used      int64
	entries   map[string]*entry
	order     *list.List
	loads     int64
	evictions int64
	closed    bool
}

func newLRU(budget int64) *lru {
	return &lru{budget: budget, entries: map[string]*entry{}, order: list.New()}
}

type loadFunc func(ctx context.Context) (value any, size int64, free func(), err error)

// acquire returns the entry for key, loading it with load when absent;
// estimate is its expected size, checked against the budget first. The
// caller must release the entry. loaded reports whether this call loaded it.
// The load itself is not cancelled with ctx: other callers may be waiting
// for it.
func (c *lru) acquire(ctx context.Context, key string, estimate int64, load loadFunc) (en *entry, loaded bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, ErrClosed
	}
	if en, ok := c.entries[key]; ok {
		en.refs++
		c.order.MoveToFront(en.elem)
		c.mu.Unlock()
		select {
		case <-en.ready:
		case <-ctx.Done():
			c.release(en)
			return nil, false, ctx.Err()
		}
		if en.err != nil {
			c.release(en)
			return nil, false, en.err
		}
		return en, false, nil
	}
	if estimate > c.budget {
		c.mu.Unlock()
		return nil, false, fmt.Errorf("%w: about %d MiB needed, %d MiB allowed", ErrTooLarge, estimate>>20, c.budget>>20)
	}
	en = &entry{key: key, refs: 1, ready: make(chan struct{})}
	en.elem = c.order.PushFront(en)
	c.entries[key] = en
	c.loads++
	// Make room before loading, so the peak stays near the budget.
	free := c.evictLocked(estimate)
	c.mu.Unlock()
	runFree(free)

	value, size, freeValue, err := load(context.WithoutCancel(ctx))
	c.mu.Lock()
	if err == nil && size > c.budget {
		err = fmt.Errorf("%w: %d MiB needed, %d MiB allowed", ErrTooLarge, size>>20, c.budget>>20)
		if freeValue != nil {
			defer freeValue()
		}
	}
	if err != nil {
		en.err = err
		delete(c.entries, key)
		c.order.Remove(en.elem)
		close(en.ready)
		c.mu.Unlock()
		c.release(en)
		return nil, false, err
	}
	en.value, en.size, en.free = value, size, freeValue
	c.used += size
	close(en.ready)
	free = c.evictLocked(0)
	c.mu.Unlock()
	runFree(free)
	return en, true, nil
}

// release drops one reference and evicts idle entries over the budget.
func (c *lru) release(en *entry) {
	c.mu.Lock()
	en.refs--
	var free []func()
	if en.refs == 0 && en.err == nil && (c.closed || c.entries[en.key] != en) {
		// Closed or evicted while in use: free it now.
		if c.entries[en.key] == en {
			c.removeLocked(en)
		}
		if en.free != nil {
			free = append(free, en.free)
		}
	}
	free = append(free, c.evictLocked(0)...)
	c.mu.Unlock()
	runFree(free)
}

// evictLocked removes idle loaded entries, least recently used first,
// until used+extra fits the budget, and returns their free functions for
// the caller to run outside the lock.
func (c *lru) evictLocked(extra int64) []func() {
	var free []func()
	for el := c.order.Back(); el != nil && c.used+extra > c.budget; {
		prev := el.Prev()
		en := el.Value.(*entry)
		if en.refs == 0 && en.value != nil {
			c.removeLocked(en)
			c.evictions++
			if en.free != nil {
				free = append(free, en.free)
			}
		}
		el = prev
	}
	return free
}

func (c *lru) removeLocked(en *entry) {
	delete(c.entries, en.key)
	c.order.Remove(en.elem)
	c.used -= en.size
}

func runFree(fs []func()) {
	for _, f := range fs {
		f()
	}
}

// close frees idle entries and refuses new acquisitions; entries in use
// are freed on their last release.
func (c *lru) close() {
	c.mu.Lock()
	c.closed = true
	var free []func()
	for _, en := range c.entries {
		if en.refs == 0 && en.value != nil {
			c.removeLocked(en)
			if en.free != nil {
				free = append(free, en.free)
			}
		}
	}
	c.mu.Unlock()
	runFree(free)
}

func (c *lru) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{UsedBytes: c.used, Loads: c.loads, Evictions: c.evictions}
	for k, en := range c.entries {
		if en.value == nil {
			continue
		}
		if strings.HasPrefix(k, "base:") {
			s.Bases++
		} else {
			s.Adapters++
		}
	}
	return s
}
