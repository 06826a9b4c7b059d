package ingest

import (
	"errors"
	"fmt"
)

// Limits bound what one file may contain. Every field must be positive;
// DefaultLimits gives the documented defaults.
type Limits struct {
	// MaxFileBytes is the largest upload. Reading past it stops parsing
	// with a fatal problem.
	MaxFileBytes int64
	// MaxRows is the most rows (JSON Lines / CSV data rows) and the most
	// records (documents split into parts) one file may hold.
	MaxRows int
	// MaxRecordChars is the longest record, in Unicode code points over
	// all its fields. Longer rows are rejected, except documents, which
	// are split.
	MaxRecordChars int
	// SplitChars is the length documents are split into, at paragraph,
	// then sentence, then word boundaries. At most MaxRecordChars.
	SplitChars int
	// MaxExtractedBytes caps the text taken out of a PDF or DOCX and the
	// bytes decompressed from a DOCX: the guard against zip bombs.
	MaxExtractedBytes int64
	// MaxCompressionRatio caps uncompressed/compressed size of each DOCX
	// entry read.
	MaxCompressionRatio int64
	// MaxProblems is how many problems a Report keeps; the rest are only
	// counted.
	MaxProblems int
}

// DefaultLimits are the limits a Datanet gets unless configured otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:        25 << 20,
		MaxRows:             100_000,
		MaxRecordChars:      20_000,
		SplitChars:          4_000,
		MaxExtractedBytes:   100 << 20,
		MaxCompressionRatio: 200,
		MaxProblems:         100,
	}
}

// Validate reports a limit that cannot work.
func (l Limits) Validate() error {
	switch {
	case l.MaxFileBytes <= 0:
		return errors.New("ingest limits: MaxFileBytes must be positive")
	case l.MaxRows <= 0:
		return errors.New("ingest limits: MaxRows must be positive")
	case l.MaxRecordChars <= 0:
		return errors.New("ingest limits: MaxRecordChars must be positive")
	case l.SplitChars <= 0 || l.SplitChars > l.MaxRecordChars:
		return fmt.Errorf("ingest limits: SplitChars must be in [1, MaxRecordChars=%d]", l.MaxRecordChars)
	case l.MaxExtractedBytes <= 0:
		return errors.New("ingest limits: MaxExtractedBytes must be positive")
	case l.MaxCompressionRatio <= 0:
		return errors.New("ingest limits: MaxCompressionRatio must be positive")
	case l.MaxProblems <= 0:
		return errors.New("ingest limits: MaxProblems must be positive")
	}
	return nil
}

// formatBytes writes a size for people: "25 MB" for 25 MiB.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
