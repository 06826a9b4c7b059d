package views

import (
	"strconv"
	"time"
)

// LabelProjectRow is a label project in lists and page headers.
type LabelProjectRow struct {
	ID          int64
	Name        string
	Datanet     string // name
	DatanetSlug string
	Task        string // classify, rate, correct
	Source      string // version, incoming
	Version     int
	Overlap     int
	Access      string // signed_in, invited
	Status      string // open, closed
	Items       int64
	Done        int64
	Review      int64
	Labels      int64
	Goal        int64 // items × overlap
	CanLabel    bool
	CanManage   bool
	CanReview   bool
}

// LabelingHome is /labeling: projects the viewer manages, reviews or may
// label, and Datanets they could start a project on.
type LabelingHome struct {
	Projects []LabelProjectRow
	Datanets []DatanetOption // Datanets the viewer manages (for "New project")
}

// DatanetOption is a Datanet offered in a form.
type DatanetOption struct {
	Slug     string
	Name     string
	Schema   string
	Labels   []string
	Versions []int // published version numbers, newest first
}

// LabelProjectView is a project's page.
type LabelProjectView struct {
	LabelProjectRow
	GuidelinesHTML string // sanitised HTML rendered from Markdown; safe to emit raw
	LabelSet       []string
	Blind          bool
	Threshold      float64
	LeaseSeconds   int
	RewardWei      string
	CreatedBy      string
	CreatedAt      time.Time
	Why            string // why the viewer may not label, if they may not
	Mine           int64  // the viewer's labels
	Members        []string
	Agreement      *LabelAgreementView // managers and reviewers only
	Flash          string
}

// LabelAgreementView is the agreement report on a project page.
type LabelAgreementView struct {
	Metric   string // nominal or interval
	Alpha    string // formatted, "—" when undefined
	AlphaOK  bool
	Pairable int
	Done     int64
	Review   int64
	Tied     int64
	Labelers []LabelerRate
	Chart    ChartSpec
}

// LabelerRate is one labeler's agreement with the final answers.
type LabelerRate struct {
	Labeler string
	Agreed  int
	Total   int
	Share   string // "83%"
}

// LabelProjectForm is the create / edit form.
type LabelProjectForm struct {
	ID           int64 // 0 when creating
	Datanet      string
	Datanets     []DatanetOption
	Name         string
	Task         string
	Labels       string // comma-separated
	Source       string
	Version      string
	Guidelines   string
	Overlap      string
	Blind        bool
	Access       string
	Threshold    string
	LeaseSeconds string
	RewardWei    string
	Status       string
	Errors       map[string]string
}

// Annotate is the annotation page and its swappable fragment.
type Annotate struct {
	ProjectID      int64
	ProjectName    string
	DatanetSlug    string
	Task           string
	Labels         []string
	Flags          []FlagOption
	GuidelinesHTML string
	Item           *AnnotateItem // nil when nothing is left to label
	Mine           int64
	Done           int64 // project items with a final answer
	Items          int64
	Given          int64 // labels given by everyone
	Goal           int64
	Message        string // what just happened ("Saved.", "Skipped.", …)
	Error          string
	Errors         map[string]string
}

// FlagOption is a rating issue flag with its key.
type FlagOption struct {
	Key    string // factual_error…
	Label  string // Factual error
	Hotkey string // f
}

// AnnotateItem is the leased item.
type AnnotateItem struct {
	ID        int64
	Token     string
	Hash      string
	Fields    []Field
	ExpiresAt time.Time
	// The answer to prefill (after an undo, or a refused submit).
	Label    string
	Rating   int
	Flags    []string
	Response string
}

// ReviewQueue is the adjudication page of a project.
type ReviewQueue struct {
	Project LabelProjectRow
	Task    string
	Labels  []string
	Flags   []FlagOption
	Items   []ReviewItem
}

// ReviewItem is an item waiting for a reviewer.
type ReviewItem struct {
	ID        int64
	Hash      string
	Fields    []Field
	Agreement string
	Tied      bool
	Answers   []ReviewAnswer
}

// ReviewAnswer is one labeler's answer as a reviewer sees it.
type ReviewAnswer struct {
	Labeler string
	Answer  string // formatted
	Value   string // the raw label / rating / response, to pick it
	Seconds string
}

// hotkey is the digit that selects the i-th label (1…9, then 0), or "".
func hotkey(i int) string {
	switch {
	case i < 9:
		return strconv.Itoa(i + 1)
	case i == 9:
		return "0"
	}
	return ""
}
