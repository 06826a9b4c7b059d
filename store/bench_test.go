package store_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// benchWords is a vocabulary for generated records; words are drawn with a
// Zipf distribution, as in real text, so searches hit both common words
// (matching a large part of the Datanet) and rare ones.
var benchWords = strings.Fields(`
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

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type textGen struct {
	r *rand.Rand
	z *rand.Zipf
}

func newTextGen(seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &textGen{r: r, z: rand.NewZipf(r, 1.1, 2, uint64(len(benchWords)-1))}
}

func (g *textGen) words(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(benchWords[g.z.Uint64()])
	}
	return b.String()
}

// bulkDatanet creates a published Datanet with n accepted instruction
// records from five contributors, loaded with COPY (the ingest path is
// measured separately by the jobs benchmark), and analysed as autovacuum
// would after such a load.
func bulkDatanet(b *testing.B, n int) (*store.Store, store.Actor, *store.Datanet) {
	b.Helper()
	ctx := context.Background()
	pool := pgtest.New(b)
	s := store.New(pool)
	var users []store.Actor
	for i := range 5 {
		u, err := s.UpsertUser(ctx, fmt.Sprintf("0x%040x", i+1))
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, store.Actor{UserID: u.ID, Address: u.Address})
	}
	owner := users[0]
	d, err := s.CreateDatanet(ctx, owner, store.DatanetInput{Name: "Clinical QA bench", Summary: "Generated questions",
		Tags: []string{"health"}, License: "CC-BY-4.0", Schema: store.SchemaInstruction,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		b.Fatal(err)
	}
	if d, err = s.PublishDatanet(ctx, owner, d.Slug); err != nil {
		b.Fatal(err)
	}
	c, err := s.CreateContribution(ctx, owner, d.Slug, store.ContributionInput{Source: "api", Filename: "bulk.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	g := newTextGen(1)
	i := 0
	copied, err := pool.CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			fields := map[string]string{
				"instruction": g.words(6+g.r.IntN(10)) + "?",
				"response":    g.words(15 + g.r.IntN(30)),
			}
			canonical, err := json.Marshal(fields) // keys sorted, like the canonical form
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(append(canonical, strconv.Itoa(i)...)) // unique even when the text repeats
			return []any{d.ID, c.ID, users[i%len(users)].UserID, "0x" + hex.EncodeToString(sum[:]), string(canonical),
				len(fields["instruction"]) + len(fields["response"]), i, "accepted"}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	// What the indexing job does after an ingest commits.
	if err := s.IndexContribution(ctx, c.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE records; ANALYZE record_index`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d records in %s", copied, time.Since(start).Round(time.Millisecond))
	return s, owner, d
}

// BenchmarkDatanetMillion measures publishing a version and searching over
// a Datanet of MF_BENCH_RECORDS (default 1,000,000) accepted records.
// Run with -benchtime=1x: the setup dominates, each sub-benchmark reports
// its own figures.
//
//	go test ./store -run '^$' -bench DatanetMillion -benchtime=1x -timeout 60m
func BenchmarkDatanetMillion(b *testing.B) {
	n := benchSize("MF_BENCH_RECORDS", 1_000_000)
	s, owner, d := bulkDatanet(b, n)
	ctx := context.Background()

	b.Run("publish", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			v, err := s.PublishVersion(ctx, owner, d.Slug, merkle.HexRoot)
			if err != nil {
				b.Fatal(err)
			}
			if v.Records != int64(n) {
				b.Fatalf("version has %d records, want %d", v.Records, n)
			}
			b.ReportMetric(time.Since(start).Seconds(), "s/publish")
		}
		b.ReportMetric(float64(n), "records")
	})

	b.Run("search", func(b *testing.B) {
		queries := benchQueries(200)
		if os.Getenv("MF_BENCH_EXPLAIN") != "" {
			explain(b, s, d.ID, queries[:8])
		}
		for b.Loop() {
			var lat []time.Duration
			byKind := map[string][]time.Duration{}
			type slow struct {
				q string
				d time.Duration
			}
			var slowest []slow
			var hits int64
			for i, q := range queries {
				start := time.Now()
				_, total, err := s.SearchRecords(ctx, d.ID, q, 25, 0)
				if err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				lat = append(lat, el)
				kind := [...]string{"word", "word", "2words", "phrase"}[i%4]
				byKind[kind] = append(byKind[kind], el)
				slowest = append(slowest, slow{q, el})
				hits += total
			}
			slices.Sort(lat)
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*95/100]), "p95-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(float64(hits)/float64(len(queries)), "matches/query")
			for k, l := range byKind {
				slices.Sort(l)
				b.ReportMetric(ms(l[len(l)*95/100]), k+"-p95-ms")
			}
			slices.SortFunc(slowest, func(a, b slow) int { return cmp.Compare(b.d, a.d) })
			for _, x := range slowest[:5] {
				b.Logf("slow: %-30s %s", x.q, x.d.Round(time.Millisecond))
			}
		}
	})
}

// benchQueries mixes one-word, two-word and phrase queries over the whole
// vocabulary, common and rare words alike.
func benchQueries(n int) []string {
	r := rand.New(rand.NewPCG(7, 7))
	w := func() string { return benchWords[r.IntN(len(benchWords))] }
	out := make([]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0, 1:
			out = append(out, w())
		case 2:
			out = append(out, w()+" "+w())
		default:
			out = append(out, `"`+w()+" "+w()+`"`)
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// explain logs query plans (MF_BENCH_EXPLAIN=1), to see which index the
// planner picks for common and rare words.
func explain(b *testing.B, s *store.Store, datanetID int64, queries []string) {
	for _, q := range queries {
		for _, sql := range []string{
			`EXPLAIN ANALYZE SELECT count(*) FROM (SELECT 1 FROM record_index x WHERE x.datanet_id = $1 AND x.status = 'accepted' AND x.search @@ websearch_to_tsquery('english', $2) LIMIT 1001) m`,
			`EXPLAIN ANALYZE SELECT x.record_id FROM record_index x WHERE x.datanet_id = $1 AND x.status = 'accepted' AND x.search @@ websearch_to_tsquery('english', $2) ORDER BY x.record_id DESC LIMIT 25`,
		} {
			rows, err := s.Pool().Query(context.Background(), sql, datanetID, q)
			if err != nil {
				b.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s\n%s", q, strings.Join(lines, "\n"))
		}
	}
}
