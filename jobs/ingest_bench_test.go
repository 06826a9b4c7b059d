package jobs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

var ingestWords = strings.Fields(`
the a of to and in is for that with as on be by this are or it from at an which can not have was
patient dose treatment symptoms blood pressure heart kidney liver lung infection fever pain chronic acute
diagnosis therapy medication tablet injection vaccine immune system virus bacteria antibiotic resistance
diabetes insulin glucose cholesterol obesity exercise diet sleep stress anxiety depression memory brain
nerve muscle bone fracture joint arthritis inflammation swelling rash allergy asthma cough breathing
oxygen surgery anaesthesia recovery wound healing scar skin cancer tumour biopsy screening prevention
pregnancy birth infant child adolescent adult elderly dementia stroke seizure migraine headache dizziness
nausea vomiting diarrhoea constipation stomach intestine digestion appetite weight hydration water salt
sugar protein vitamin mineral iron calcium potassium sodium hormone thyroid adrenal pituitary gland
clinic hospital nurse doctor pharmacist prescription guideline evidence trial placebo randomised study
risk benefit outcome mortality survival quality life care support family consent ethics privacy record
explain describe compare summarise list identify calculate estimate recommend assess monitor measure
why how what when which whether should could would might usually often rarely always never first second
daily weekly twice morning evening before after during between within without against because although
`)

// writeInstructionJSONL writes about size bytes of instruction records:
// Zipf-distributed words, an optional input, 1% exact duplicates and 1%
// near-duplicates (one word changed) of earlier rows.
func writeInstructionJSONL(tb testing.TB, path string, size int64, seed uint64) (rows int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 42))
	z := rand.NewZipf(r, 1.05, 3, uint64(len(ingestWords)-1))
	words := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(ingestWords[z.Uint64()])
		}
		return b.String()
	}
	type row struct {
		Instruction string `json:"instruction"`
		Input       string `json:"input,omitempty"`
		Response    string `json:"response"`
	}
	var recent []row
	var written int64
	for written < size {
		var x row
		switch p := r.IntN(100); {
		case p == 0 && len(recent) > 0:
			x = recent[r.IntN(len(recent))]
		case p == 1 && len(recent) > 0:
			x = recent[r.IntN(len(recent))]
			ws := strings.Fields(x.Response)
			ws[r.IntN(len(ws))] = "changed"
			x.Response = strings.Join(ws, " ")
		default:
			q := words(8 + r.IntN(16))
			x = row{Instruction: strings.ToUpper(q[:1]) + q[1:] + "?", Response: words(40+r.IntN(120)) + "."}
			if r.IntN(3) == 0 {
				x.Input = words(10 + r.IntN(30))
			}
		}
		if len(recent) < 1000 {
			recent = append(recent, x)
		} else {
			recent[r.IntN(len(recent))] = x
		}
		b, err := json.Marshal(x)
		if err != nil {
			tb.Fatal(err)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
		written += int64(len(b))
		rows++
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// vmHWM is the process's peak resident set size in bytes.
func vmHWM(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkIngestInstructionJSONL ingests a generated instruction JSONL
// file of MF_BENCH_INGEST_MB megabytes (default 100) end to end, as an
// upload does: the file is stored content-addressed in a Local blob store,
// the contribution is created with its River job in one transaction, and a
// real River client runs IngestWorker (parse, normalise, hash, MinHash,
// COPY, de-duplicate, commit) on real PostgreSQL. It reports MB/s up to the
// commit, the time the indexing job then takes to make the records
// searchable (s-index-after), and the process's peak RSS; run it once per
// size (peak RSS is per process):
//
//	MF_BENCH_INGEST_MB=10  go test ./jobs -run '^$' -bench IngestInstructionJSONL -benchtime=1x
//	MF_BENCH_INGEST_MB=100 go test ./jobs -run '^$' -bench IngestInstructionJSONL -benchtime=1x
//
// With MF_BENCH_INGEST_EXISTING=1 the Datanet first receives another file
// of the same size (other rows, untimed, indexed), so the timed ingest
// checks its records against that many existing ones.
func BenchmarkIngestInstructionJSONL(b *testing.B) {
	mb := 100
	if v, err := strconv.Atoi(os.Getenv("MF_BENCH_INGEST_MB")); err == nil && v > 0 {
		mb = v
	}
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "instructions.jsonl")
	rows := writeInstructionJSONL(b, path, int64(mb)<<20, 42)
	existing, maxRows := "", rows
	if os.Getenv("MF_BENCH_INGEST_EXISTING") != "" {
		existing = filepath.Join(b.TempDir(), "earlier.jsonl")
		maxRows = max(rows, writeInstructionJSONL(b, existing, int64(mb)<<20, 7))
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}

	pool := pgtest.New(b)
	st := store.New(pool)
	blobs, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	limits := ingest.DefaultLimits()
	limits.MaxFileBytes = 2*fi.Size() + 1
	limits.MaxRows = maxRows + 1
	client, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: slog.New(slog.DiscardHandler), Blobs: blobs, IngestLimits: limits},
		jobs.Config{Queues: []string{jobs.QueueIngest}, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	events, stop := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer stop()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer client.Stop(context.Background())

	var owner store.Actor
	for b.Loop() {
		u, err := st.UpsertUser(ctx, fmt.Sprintf("0x%040x", time.Now().UnixNano()))
		if err != nil {
			b.Fatal(err)
		}
		owner = store.Actor{UserID: u.ID, Address: u.Address}
		d, err := st.CreateDatanet(ctx, owner, store.DatanetInput{Name: "Clinical instructions", Summary: "Generated",
			License: "CC-BY-4.0", Schema: store.SchemaInstruction, Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
		if err != nil {
			b.Fatal(err)
		}
		if d, err = st.PublishDatanet(ctx, owner, d.Slug); err != nil {
			b.Fatal(err)
		}

		if existing != "" {
			ingestBenchFile(b, st, blobs, client, events, owner, d.Slug, existing)
		}
		c, stored, elapsed, indexed := ingestBenchFile(b, st, blobs, client, events, owner, d.Slug, path)
		size := c.SizeBytes
		got, err := st.ContributionByID(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		// About 1% of the rows repeat earlier ones; every row is counted once.
		if got.Status != store.ContribAccepted || got.Indexing || got.Accepted < int64(rows)*95/100 || got.Accepted+got.Duplicates+got.Rejected != int64(rows) {
			b.Fatalf("contribution %+v, file had %d rows", got, rows)
		}
		b.ReportMetric(float64(size)/(1<<20)/elapsed.Seconds(), "MB/s")
		b.ReportMetric(float64(size)/(1<<20), "file-MB")
		b.ReportMetric(float64(got.Accepted), "accepted")
		b.ReportMetric(float64(got.Duplicates), "duplicates")
		b.ReportMetric(float64(got.NearDups), "near-dups")
		b.ReportMetric(stored.Seconds(), "s-store-upload")
		b.ReportMetric(elapsed.Seconds(), "s-total")
		if existing != "" {
			if dn, err := st.DatanetBySlug(ctx, d.Slug); err == nil {
				b.ReportMetric(float64(dn.Records), "datanet-records")
			}
		}
		b.ReportMetric(indexed.Seconds(), "s-index-after")
	}
	b.ReportMetric(float64(vmHWM(b))/(1<<20), "peak-RSS-MB")
}

// ingestBenchFile uploads path as a contribution to the Datanet and waits
// for its ingest and then its indexing job: it returns the contribution,
// the time to store the upload, the time to the ingest's commit (upload
// included) and the indexing time after that.
func ingestBenchFile(b *testing.B, st *store.Store, blobs blob.Store, client *river.Client[pgx.Tx], events <-chan *river.Event, owner store.Actor, slug, path string) (c *store.Contribution, stored, elapsed, indexed time.Duration) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	key, sum, size, err := blob.PutContent(ctx, blobs, "uploads/", f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	stored = time.Since(start)
	c, err = st.CreateContribution(ctx, owner, slug, store.ContributionInput{Source: "file", Filename: filepath.Base(path),
		BlobKey: key, SHA256: sum, SizeBytes: size}, func(ctx context.Context, tx pgx.Tx, id int64) error {
		return jobs.InsertIngest(ctx, client, tx, id)
	})
	if err != nil {
		b.Fatal(err)
	}
	for i, kind := range []string{(jobs.IngestArgs{}).Kind(), (jobs.IndexArgs{}).Kind()} {
		select {
		case ev := <-events:
			if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Kind != kind {
				b.Fatalf("job %s ended %s: %v", ev.Job.Kind, ev.Job.State, ev.Job.Errors)
			}
		case <-time.After(20 * time.Minute):
			b.Fatalf("%s did not finish", kind)
		}
		if i == 0 {
			// Then the indexing job makes the records searchable; its time
			// is reported apart (the contribution is committed and
			// accepted before it starts).
			elapsed = time.Since(start)
		}
	}
	return c, stored, elapsed, time.Since(start) - elapsed
}
