package inference

import (
	"fmt"

	"github.com/modelfactory/modelfactory/trainer"
)

// Prompt formats: how the user's text is shown to the model.
const (
	// FormatRaw continues the text as written (documents, base models).
	FormatRaw = "raw"
	// FormatInstruction wraps it the way instruction data is trained
	// (trainer.InstructionPrompt), so the model answers as it learned to.
	FormatInstruction = "instruction"
)

// instructionStop ends an answer where an instruction-tuned model starts
// the next example instead of ending with <|endoftext|>.
const instructionStop = "\n### Instruction:"

// FormatPrompt returns the model's prompt for text in format and the stop
// sequences that go with it.
func FormatPrompt(format, text string) (string, []string, error) {
	switch format {
	case FormatRaw:
		return text, nil, nil
	case FormatInstruction:
		return trainer.InstructionPrompt(text, ""), []string{instructionStop}, nil
	}
	return "", nil, &FieldError{"format", fmt.Sprintf("Prompt format must be %q or %q.", FormatRaw, FormatInstruction)}
}
