package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// BaseModelView is one entry of the base-model catalog.
type BaseModelView struct {
	Slug          string
	Name          string
	Source        string // builtin, local, s3, huggingface
	SourceURI     string
	Status        string // importing, ready, failed
	Error         string
	Architecture  string
	ParamCount    int64
	SizeBytes     int64
	ContextLength int
	License       string
	TrainableCPU  bool
	ContentHash   string
	Files         []ModelFileView
	UpdatedAt     time.Time
}

// ModelFileView is one downloadable file with its hash.
type ModelFileView struct {
	Name   string
	Size   int64
	SHA256 string // hex
	Href   string // download URL
}

// FineTunedView is a fine-tuned model in lists.
type FineTunedView struct {
	Slug        string
	Name        string
	Owner       string // address
	BaseSlug    string
	BaseName    string
	Method      string // lora, full
	Visibility  string // private, unlisted, public
	Status      string // active, suspended
	PriceWei    string // per 1,000 tokens
	PublishedAt *time.Time
	CreatedAt   time.Time
	Mine        bool
}

// ModelCatalog is the /models page.
type ModelCatalog struct {
	Query   string
	Compute string // "", "cpu" or "gpu": filters base models
	Show    string // "" (everything visible) or "mine"
	Bases   []BaseModelView
	Models  []FineTunedView
	Pager   Pager
	IsAdmin bool
}

// ModelDataView is one Datanet version a model was trained on.
type ModelDataView struct {
	DatanetSlug string
	DatanetName string
	Version     int
	Records     int64
	MerkleRoot  string
	AnchorTx    string
}

// KV is a labelled value.
type KV struct {
	Key   string
	Value string
}

// Registry states of a model.
const (
	RegistryNone      = ""          // not published, or no chain engine
	RegistryPending   = "pending"   // job queued or transaction on its way
	RegistryConfirmed = "confirmed" // RegistryTx is set
	RegistryFailed    = "failed"    // the transaction failed; see RegistryError
)

// ModelPageView is a fine-tuned model's page (its model card).
type ModelPageView struct {
	Model         FineTunedView
	BaseHash      string
	RunID         int64 // 0 once the run is deleted
	Data          []ModelDataView
	Settings      []KV
	Metrics       []KV
	PPLBefore     string // validation perplexity of the base model, "" when unknown
	PPLAfter      string // of the fine-tuned model
	AdapterFiles  []ModelFileView
	AdapterHash   string
	MergedFiles   []ModelFileView
	MergedHash    string
	CanPublish    bool
	Form          PublishForm
	ChainEnabled  bool // publishing registers the model in the ProvenanceRegistry
	RegistryState string
	RegistryTx    string
	RegistryHref  string // explorer link, "" without an explorer
	RegistryError string
	CanReport     bool
}

// PublishForm is the publish form's values and field errors.
type PublishForm struct {
	Visibility string
	Price      string // OPEN per 1,000 tokens, as entered
	Errors     map[string]string
}

// BaseModelPageView is a base model's page.
type BaseModelPageView struct {
	Base    BaseModelView
	Models  []FineTunedView // fine-tuned from it, visible to the viewer
	IsAdmin bool
}

// ImportForm is the admin import page: the form and the recent imports.
type ImportForm struct {
	Source  string
	Name    string
	Slug    string
	Errors  map[string]string
	Imports []BaseModelView // non-built-in catalog entries, newest first
}

// Importing reports whether any import is still running (the list then
// refreshes itself).
func (f ImportForm) Importing() bool {
	for _, b := range f.Imports {
		if b.Status == "importing" {
			return true
		}
	}
	return false
}

// FormatBytes writes a size the way model hubs do: 548 MB, 12.3 kB.
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + string("kMGTPE"[exp]) + "B"
}

// FormatParams writes a parameter count: 124M, 1.5B, 86k.
func FormatParams(n int64) string {
	if n <= 0 {
		return "—"
	}
	return compactInt(n)
}

func modelHref(slug string) string     { return "/models/" + url.PathEscape(slug) }
func baseModelHref(slug string) string { return "/models/base/" + url.PathEscape(slug) }

func playgroundHref(slug string) string { return "/playground?model=" + url.QueryEscape(slug) }

func baseSourceLabel(s string) string {
	switch s {
	case "builtin":
		return "Built in"
	case "local":
		return "Local path"
	case "s3":
		return "S3"
	case "huggingface":
		return "Hugging Face"
	}
	return s
}

func methodLabel(m string) string {
	if m == "full" {
		return "Full fine-tune"
	}
	return "LoRA"
}

func modelVisibilityLabel(v string) string {
	switch v {
	case "public":
		return "Public"
	case "unlisted":
		return "Unlisted"
	}
	return "Private"
}

func modelVisibilityHelp(v string) string {
	switch v {
	case "public":
		return "Listed in the catalog; anyone signed in can use and download it."
	case "unlisted":
		return "Not listed; anyone with the link can use and download it."
	}
	return "Only you (and admins) can see it."
}

func contextLabel(n int) string {
	if n <= 0 {
		return "—"
	}
	return FormatInt(int64(n)) + " tokens"
}

func archLabel(a string) string {
	if a == "" {
		return "—"
	}
	return a
}

func licenseLabel(l string) string {
	if strings.TrimSpace(l) == "" {
		return "not stated"
	}
	return l
}

// catalogHref is the catalog URL with one filter changed.
func catalogHref(c ModelCatalog, key, value string) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", c.Query)
	set("compute", c.Compute)
	set("show", c.Show)
	q.Del(key)
	set(key, value)
	if len(q) == 0 {
		return "/models"
	}
	return "/models?" + q.Encode()
}
