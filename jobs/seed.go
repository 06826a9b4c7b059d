package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/store"
)

// SeedDemoArgs fills an empty development instance with a few living
// Datanets built from real text that ships with the machine: the Go
// toolchain's package documentation and the distribution's licence texts.
// Contributions go through the real ingest; SeedPublishArgs then accepts
// them and publishes version 1 of each.
type SeedDemoArgs struct{}

// Kind identifies the job.
func (SeedDemoArgs) Kind() string { return "seed_demo" }

// InsertOpts: one seeding ever per database.
func (SeedDemoArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// SeedPublishArgs publishes version 1 of each demo Datanet once its
// contributions are ingested; it retries (River backoff) until they are.
type SeedPublishArgs struct{}

// Kind identifies the job.
func (SeedPublishArgs) Kind() string { return "seed_demo_publish" }

// InsertOpts schedules it a little after the seed.
func (SeedPublishArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 10, ScheduledAt: time.Now().Add(5 * time.Second)}
}

// demoDatanet is one demo Datanet and who contributes what to it.
type demoDatanet struct {
	input   store.DatanetInput
	files   []demoFile
	publish bool
}

type demoFile struct {
	name, body string
	by         int // contributor index
}

// demoContributor is a deterministic wallet, so demo data looks the same on
// every machine.
func demoContributor(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("modelfactory demo contributor %d", i)))
	key, err := crypto.ToECDSA(sum[:])
	if err != nil {
		panic(err) // a SHA-256 is a valid secp256k1 key with overwhelming probability; this one is fixed
	}
	return crypto.PubkeyToAddress(key.PublicKey).Hex()
}

// SeedWorker runs SeedDemoArgs.
type SeedWorker struct {
	river.WorkerDefaults[SeedDemoArgs]
	store *store.Store
	blobs blob.Store
	log   *slog.Logger
}

// Work creates the demo Datanets unless people have made Datanets of their
// own. A retry after a crash picks up where the last run stopped: existing
// demo Datanets and contributions (by content hash) are reused.
func (w *SeedWorker) Work(ctx context.Context, job *river.Job[SeedDemoArgs]) error {
	all, _, err := w.store.ListDatanets(ctx, store.Actor{Admin: true}, store.DatanetQuery{Limit: 100})
	if err != nil {
		return err
	}
	demoOwner := demoContributor(0)
	for _, d := range all {
		if !strings.EqualFold(d.Owner, demoOwner) {
			return nil // a real instance: leave it alone
		}
	}
	demos := demoDatanets()
	if len(demos) == 0 {
		w.log.Warn("no offline text found for demo Datanets (Go sources or /usr/share/common-licenses)")
		return nil
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	users := map[int]store.Actor{}
	actorOf := func(i int) (store.Actor, error) {
		if a, ok := users[i]; ok {
			return a, nil
		}
		u, err := w.store.UpsertUser(ctx, demoContributor(i))
		if err != nil {
			return store.Actor{}, err
		}
		users[i] = store.Actor{UserID: u.ID, Address: u.Address}
		return users[i], nil
	}
	for _, demo := range demos {
		owner, err := actorOf(0)
		if err != nil {
			return err
		}
		d, err := w.demoDatanet(ctx, owner, demo.input, all)
		if err != nil {
			return fmt.Errorf("demo %s: %w", demo.input.Name, err)
		}
		have := map[string]bool{}
		cs, err := w.store.Contributions(ctx, d.ID, 0, 100, 0)
		if err != nil {
			return err
		}
		for _, c := range cs {
			have[c.SHA256] = true
		}
		for _, f := range demo.files {
			by, err := actorOf(f.by)
			if err != nil {
				return err
			}
			if have[fmt.Sprintf("%x", sha256.Sum256([]byte(f.body)))] {
				continue
			}
			if err := w.ensureAccess(ctx, owner, by, d); err != nil {
				return err
			}
			key, sum, size, err := blob.PutContent(ctx, w.blobs, "uploads/", strings.NewReader(f.body))
			if err != nil {
				return err
			}
			_, err = w.store.CreateContribution(ctx, by, d.Slug, store.ContributionInput{Source: "file", Filename: f.name,
				BlobKey: key, SHA256: sum, SizeBytes: size}, func(ctx context.Context, tx pgx.Tx, id int64) error {
				return InsertIngest(ctx, client, tx, id)
			})
			if err != nil {
				return err
			}
		}
	}
	if _, err := client.Insert(ctx, SeedPublishArgs{}, nil); err != nil {
		return err
	}
	w.log.Info("seeded demo Datanets", "datanets", len(demos))
	return nil
}

// demoDatanet returns the published demo Datanet named in, creating it
// when a previous run did not.
func (w *SeedWorker) demoDatanet(ctx context.Context, owner store.Actor, in store.DatanetInput, existing []store.Datanet) (*store.Datanet, error) {
	for i := range existing {
		if existing[i].Name == in.Name {
			d := &existing[i]
			if d.Status == store.DatanetDraft {
				return w.store.PublishDatanet(ctx, owner, d.Slug)
			}
			return d, nil
		}
	}
	d, err := w.store.CreateDatanet(ctx, owner, in)
	if err != nil {
		return nil, err
	}
	return w.store.PublishDatanet(ctx, owner, d.Slug)
}

// ensureAccess has the demo owner approve a contributor's access request
// on a permissioned Datanet, as a real owner would.
func (w *SeedWorker) ensureAccess(ctx context.Context, owner, by store.Actor, d *store.Datanet) error {
	acc, err := w.store.AccessFor(ctx, by, d)
	if err != nil || acc.Contribute {
		return err
	}
	req, err := w.store.RequestAccess(ctx, by, d.Slug, "Contributing labelled licence clauses to the demo.")
	if err != nil {
		return err
	}
	_, err = w.store.DecideAccess(ctx, owner, req.ID, true, nil)
	return err
}

// SeedPublishWorker runs SeedPublishArgs.
type SeedPublishWorker struct {
	river.WorkerDefaults[SeedPublishArgs]
	store *store.Store
	log   *slog.Logger
}

// Work accepts the demo contributions in review and publishes version 1.
func (w *SeedPublishWorker) Work(ctx context.Context, job *river.Job[SeedPublishArgs]) error {
	owner, err := w.store.UpsertUser(ctx, demoContributor(0))
	if err != nil {
		return err
	}
	a := store.Actor{UserID: owner.ID, Address: owner.Address}
	list, _, err := w.store.ListDatanets(ctx, a, store.DatanetQuery{Limit: 100})
	if err != nil {
		return err
	}
	for _, d := range list {
		if d.OwnerID != owner.ID || d.Versions > 0 {
			continue
		}
		cs, err := w.store.Contributions(ctx, d.ID, 0, 100, 0)
		if err != nil {
			return err
		}
		for _, c := range cs {
			switch c.Status {
			case store.ContribPending, store.ContribProcessing:
				return errors.New("demo contributions are still being ingested") // River retries later
			case store.ContribInReview:
				if _, err := w.store.ReviewContribution(ctx, a, c.ID, true, ""); err != nil {
					return err
				}
			}
		}
		if _, err := w.store.PublishVersion(ctx, a, d.Slug, merkle.HexRoot); err != nil {
			return fmt.Errorf("publish demo %s: %w", d.Slug, err)
		}
	}
	return nil
}

// demoDatanets builds the demo content from text on this machine.
func demoDatanets() []demoDatanet {
	var out []demoDatanet
	if qa := goPackageQA(); len(qa) > 0 {
		files := splitAmong(qa, 3)
		d := demoDatanet{input: store.DatanetInput{Name: "Go standard library Q&A",
			Summary:     "What each package of Go's standard library is for, answered from its own documentation.",
			Description: "Instruction → response pairs built from the package documentation that ships with the Go toolchain (BSD-licensed).\n\nUse it to teach a small model to explain Go packages.",
			Tags:        []string{"go", "programming", "documentation"}, License: "other", Schema: store.SchemaInstruction,
			Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyReview}}
		for i, lines := range files {
			d.files = append(d.files, demoFile{name: fmt.Sprintf("go-packages-%d.jsonl", i+1), body: strings.Join(lines, "\n"), by: i + 1})
		}
		out = append(out, d)
	}
	if docs := licenceTexts(); len(docs) > 0 {
		d := demoDatanet{input: store.DatanetInput{Name: "Open-source licence texts",
			Summary:     "Full texts of common free-software licences, split into passages.",
			Description: "Documents taken from the distribution's `/usr/share/common-licenses`. Good for pre-training on legal English.",
			Tags:        []string{"legal", "licences", "documents"}, License: "other", Schema: store.SchemaDocuments,
			Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen}}
		for i, doc := range docs {
			d.files = append(d.files, demoFile{name: doc.name + ".txt", body: doc.body, by: 1 + i%3})
		}
		out = append(out, d)
		var rows []string
		for _, doc := range docs {
			for _, p := range paragraphs(doc.body, 6) {
				b, _ := json.Marshal(map[string]string{"text": p, "label": doc.family})
				rows = append(rows, string(b))
			}
		}
		c := demoDatanet{input: store.DatanetInput{Name: "Licence clause classifier",
			Summary:     "Which licence family does this clause come from?",
			Description: "Paragraphs of licence texts labelled with their family (GPL, LGPL, Apache, MPL, other).",
			Tags:        []string{"legal", "classification"}, License: "other", Schema: store.SchemaClassification,
			Labels:     []string{"GPL", "LGPL", "Apache", "MPL", "other"},
			Visibility: store.VisibilityPermissioned, ContributionPolicy: store.PolicyOpen}}
		for i, part := range splitAmong(rows, 2) {
			c.files = append(c.files, demoFile{name: fmt.Sprintf("clauses-%d.jsonl", i+1), body: strings.Join(part, "\n"), by: 2 + i})
		}
		out = append(out, c)
	}
	return out
}

// goPackageQA reads the package comment of each standard-library package.
func goPackageQA() []string {
	root := filepath.Join(runtime.GOROOT(), "src")
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	var rows []string
	fset := token.NewFileSet()
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || len(rows) >= 120 {
			return filepath.SkipDir
		}
		if !d.IsDir() || strings.Contains(path, "internal") || strings.Contains(path, "testdata") || strings.Contains(path, "vendor") || strings.Contains(path, "/cmd") {
			if d.IsDir() && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		pkgs, err := parser.ParseDir(fset, path, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return nil
		}
		for name, pkg := range pkgs {
			if name == "main" {
				continue
			}
			var doc string
			for _, f := range pkg.Files {
				if f.Doc != nil && len(f.Doc.Text()) > len(doc) {
					doc = f.Doc.Text()
				}
			}
			first := strings.TrimSpace(strings.SplitN(doc, "\n\n", 2)[0])
			if len(first) < 40 {
				continue
			}
			rel, _ := filepath.Rel(root, path)
			b, _ := json.Marshal(map[string]string{
				"instruction": "What is the Go package " + filepath.ToSlash(rel) + " for?",
				"response":    strings.Join(strings.Fields(first), " "),
			})
			rows = append(rows, string(b))
		}
		return nil
	})
	sort.Strings(rows)
	return rows
}

type licence struct{ name, family, body string }

func licenceTexts() []licence {
	var out []licence
	for _, name := range []string{"Apache-2.0", "GPL-3", "LGPL-2.1", "MPL-2.0", "BSD", "Artistic"} {
		b, err := os.ReadFile(filepath.Join("/usr/share/common-licenses", name))
		if err != nil {
			continue
		}
		family := "other"
		switch {
		case strings.HasPrefix(name, "GPL"):
			family = "GPL"
		case strings.HasPrefix(name, "LGPL"):
			family = "LGPL"
		case strings.HasPrefix(name, "Apache"):
			family = "Apache"
		case strings.HasPrefix(name, "MPL"):
			family = "MPL"
		}
		out = append(out, licence{name: name, family: family, body: string(b)})
	}
	return out
}

// paragraphs returns up to n substantial paragraphs of text.
func paragraphs(text string, n int) []string {
	var out []string
	for _, p := range strings.Split(text, "\n\n") {
		p = strings.Join(strings.Fields(p), " ")
		if len(p) >= 200 && len(p) <= 2000 {
			out = append(out, p)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

func splitAmong(rows []string, n int) [][]string {
	out := make([][]string, n)
	for i, r := range rows {
		out[i%n] = append(out[i%n], r)
	}
	return out
}
