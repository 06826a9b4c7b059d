package ingest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// genJSONL generates an instruction JSON Lines file of about size bytes on
// the fly, so the benchmark's memory is the parser's alone.
type genJSONL struct {
	rng   *rand.Rand
	left  int64
	buf   []byte
	i     int
	vocab []string
}

func newGenJSONL(size int64) *genJSONL {
	g := &genJSONL{rng: rand.New(rand.NewPCG(7, 8)), left: size}
	for i := range 5000 {
		g.vocab = append(g.vocab, fmt.Sprintf("w%dx", i*7919%100000))
	}
	return g
}

func (g *genJSONL) sentence(words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.vocab[g.rng.IntN(len(g.vocab))])
	}
	b.WriteByte('.')
	return b.String()
}

func (g *genJSONL) Read(p []byte) (int, error) {
	if g.i == len(g.buf) {
		if g.left <= 0 {
			return 0, io.EOF
		}
		g.buf = fmt.Appendf(g.buf[:0], "{\"instruction\":%q,\"input\":%q,\"response\":%q}\n",
			g.sentence(20), g.sentence(10), g.sentence(120))
		g.i = 0
		g.left -= int64(len(g.buf))
	}
	n := copy(p, g.buf[g.i:])
	g.i += n
	return n, nil
}

func benchParse(b *testing.B, size int64) {
	lim := DefaultLimits()
	lim.MaxFileBytes = 2 * size
	lim.MaxRows = 10_000_000
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	for b.Loop() {
		n := 0
		rep, err := Parse(context.Background(), newGenJSONL(size), "bench.jsonl", instr, lim, func(Record) error {
			// Sample the live heap now and then (ReadMemStats stops the
			// world, so not on every record).
			if n++; n%2000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		})
		if err != nil || rep.Fatal || rep.Records == 0 {
			b.Fatalf("%v %+v", err, rep.Problems)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkParse10MB and BenchmarkParse100MB: end-to-end parsing of an
// instruction JSON Lines file (validation, normalisation, hashing, PII,
// MinHash, in-file duplicates). B/op counts all allocation, which grows
// with the number of records (each emitted record is new memory the caller
// owns); peak-heap-MB is the largest live heap sampled during the parse,
// which stays flat apart from the in-file duplicate index (one hash per
// record, bounded by MaxRows).
func BenchmarkParse10MB(b *testing.B)  { benchParse(b, 10<<20) }
func BenchmarkParse100MB(b *testing.B) { benchParse(b, 100<<20) }
