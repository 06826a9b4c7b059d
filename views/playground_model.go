package views

// Playground is the side-by-side chat page: a fine-tuned model against its
// base, both streaming.
type Playground struct {
	Models   []PlaygroundModel // what the viewer may chat with
	Selected *PlaygroundModel  // nil when there is none
	// Problem, when set, says why the selected model cannot answer now
	// (suspended, files not ready, generation disabled).
	Problem string
	// Defaults of the controls and the largest max tokens allowed.
	MaxTokens      int
	MaxTokensLimit int
	Temperature    float64
	TopP           float64
}

// PlaygroundModel is one fine-tuned model in the picker.
type PlaygroundModel struct {
	Slug     string
	Name     string
	Owner    string // owner's address
	BaseName string
	Method   string // "lora" | "full"
	// Instruction is true when it was trained on instruction data: prompts
	// are formatted as instructions by default.
	Instruction  bool
	Endpoint     string // generate URL of the fine-tuned model
	BaseEndpoint string // generate URL of its base model
	Href         string // model page
}
