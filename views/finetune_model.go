package views

import (
	"fmt"
	"strconv"
	"time"
)

// FinetuneBaseOption is one base model in the wizard.
type FinetuneBaseOption struct {
	ID            int64
	Slug          string
	Name          string
	Architecture  string
	Params        int64
	SizeBytes     int64
	ContextLength int
	Width         int
	License       string
	TrainableCPU  bool
}

// FinetuneDataOption is one Datanet version in the wizard.
type FinetuneDataOption struct {
	VersionID   int64
	DatanetSlug string
	DatanetName string
	Schema      string
	Version     int
	Records     int64
	Tokens      int64
	MerkleRoot  string
	Usable      bool
	Why         string // why not usable: "request access", "pending", "suspended", …
}

// FinetuneTemplateOption is a saved configuration listed at the wizard start.
type FinetuneTemplateOption struct {
	ID      int64
	Name    string
	Summary string
}

// FinetuneField is one trainer option in the wizard's settings step.
type FinetuneField struct {
	Name     string // form and JSON name: "learningRate"
	Label    string
	Help     string
	Value    string
	Kind     string   // "number", "text", "select"
	Step     string   // number input step ("any", "1")
	Options  []string // for selects
	Advanced bool
}

// FinetuneWizard is the state of the new fine-tune wizard. Every step's
// fields are always in the form (the inactive steps hidden), so going back
// and forth keeps every choice.
type FinetuneWizard struct {
	Step      int // 1 base model, 2 data, 3 method & settings, 4 review
	Errors    map[string]string
	Templates []FinetuneTemplateOption
	Bases     []FinetuneBaseOption
	Data      []FinetuneDataOption

	BaseModelID  int64
	VersionIDs   map[int64]bool
	Method       string
	Preset       string
	Fields       []FinetuneField
	LoRATargets  []string // chosen
	Targets      []string // offered
	Name         string
	Priority     int
	GPU          bool
	TemplateName string

	// Review figures.
	Records, TrainRecords, ValRecords, Tokens int64
	Steps                                     int
	EstimatedSeconds                          int
	EstimateSource                            string // how tokens/s was obtained
	TokensPerSec                              float64
	Queue                                     string
	Cost                                      string
}

// StepTitle names the wizard steps.
var finetuneSteps = []string{"Base model", "Data", "Method & settings", "Review"}

// FinetuneRunRow is one run in the list and on compare.
type FinetuneRunRow struct {
	ID            int64
	Name          string
	BaseModel     string
	Method        string
	Status        string
	Step, Total   int
	QueuePosition int // 1-based; 0 when not queued
	Queue         string
	Priority      int
	CreatedAt     time.Time
	FinishedAt    *time.Time
	ModelSlug     string
	TrainLoss     *float64
	EvalLoss      *float64
}

// FinetuneRunPage is the live run page.
type FinetuneRunPage struct {
	Run        FinetuneRunRow
	Owner      string
	Error      string
	Settings   []FinetuneField
	Data       []FinetuneDataOption
	Live       FinetuneLive
	Loss       ChartSpec
	LR         ChartSpec
	CanCancel  bool
	CanDelete  bool
	StartedAt  *time.Time
	EstimatedS int
	Attempt    int
	Worker     string
	Metrics    []FinetuneMetric
	EventsURL  string // the SSE stream, after the events the page drew
}

// FinetuneMetric is one final figure.
type FinetuneMetric struct {
	Label string
	Value string
}

// FinetuneLive is the part of the run page that SSE refreshes.
type FinetuneLive struct {
	RunID         int64
	Status        string
	Step, Total   int
	Epoch         float64
	TokensPerSec  float64
	Elapsed       string
	Remaining     string
	QueuePosition int
	ModelSlug     string
	Error         string
	Logs          []FinetuneLogLine
	Samples       []FinetuneSample
	EarlyStop     string
	LastEventID   int64
	CanCancel     bool
	Attempt       int
}

// FinetuneLogLine is one log tail line.
type FinetuneLogLine struct {
	At   time.Time
	Text string
}

// FinetuneSample is one sample generation.
type FinetuneSample struct {
	Step   int
	Prompt string
	Output string
}

// FinetuneList is the runs list.
type FinetuneList struct {
	Runs []FinetuneRunRow
}

// FinetuneCompare is the compare page.
type FinetuneCompare struct {
	Runs []FinetuneRunRow
	Loss ChartSpec
	Eval ChartSpec
}

// FinetuneLiveState is what the page shows; SSE sends only when it changes.
func FinetuneLiveState(l FinetuneLive) string {
	return fmt.Sprintf("%s-%d-%d", l.Status, l.LastEventID, l.QueuePosition)
}

func ftFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func ftOptFloat(v *float64) string {
	if v == nil {
		return "—"
	}
	return ftFloat(*v, 4)
}

// FormatDuration writes seconds as "1 h 4 min", "3 min 5 s" or "12 s".
func FormatDuration(s int) string {
	switch {
	case s <= 0:
		return "under a second"
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, s/60%60)
}
