// Package tokenizer implements GPT-2's byte-level BPE: loading vocab.json +
// merges.txt or a Hugging Face tokenizer.json, encoding exactly as GPT-2
// does (its pre-tokenization pattern, byte-to-unicode map and merge ranks),
// decoding, and training a new byte-level BPE on a corpus.
package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EndOfText is GPT-2's document separator token.
const EndOfText = "<|endoftext|>"

// File names of a tokenizer directory.
const (
	VocabFile  = "vocab.json"
	MergesFile = "merges.txt"
	JSONFile   = "tokenizer.json"
)

// byteToRune is GPT-2's bytes_to_unicode: printable bytes map to themselves,
// the rest to code points from 256 up, so every byte is a visible rune.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

type pair struct{ a, b string }

// Tokenizer is a byte-level BPE tokenizer. It is safe for concurrent use
// except for its word cache, which is guarded by no lock: give each
// goroutine its own copy via Clone, or use it from one goroutine.
type Tokenizer struct {
	encoder map[string]int
	decoder map[int]string
	ranks   map[pair]int
	merges  []pair
	special map[string]int
	cache   map[string][]int
}

// New builds a tokenizer from a vocabulary (token → id) and ranked merges.
// Special tokens (e.g. EndOfText) must be in vocab; they are never produced
// by Encode from user text, only by the caller.
func New(vocab map[string]int, merges [][2]string, special []string) (*Tokenizer, error) {
	t := &Tokenizer{encoder: vocab, decoder: make(map[int]string, len(vocab)), ranks: make(map[pair]int, len(merges)),
		special: map[string]int{}, cache: map[string][]int{}}
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: token %q has negative id %d", tok, id)
		}
		if prev, dup := t.decoder[id]; dup {
			return nil, fmt.Errorf("tokenizer: id %d used by %q and %q", id, prev, tok)
		}
		t.decoder[id] = tok
	}
	for i := 0; i < 256; i++ {
		if _, ok := vocab[string(byteToRune[i])]; !ok {
			return nil, fmt.Errorf("tokenizer: vocabulary lacks the byte token %q", string(byteToRune[i]))
		}
	}
	for i, m := range merges {
		p := pair{m[0], m[1]}
		if _, ok := vocab[m[0]+m[1]]; !ok {
			return nil, fmt.Errorf("tokenizer: merge %d (%q %q) produces a token missing from the vocabulary", i, m[0], m[1])
		}
		if _, dup := t.ranks[p]; !dup {
			t.ranks[p] = i
		}
		t.merges = append(t.merges, p)
	}
	for _, s := range special {
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("tokenizer: special token %q not in vocabulary", s)
		}
		t.special[s] = id
	}
	return t, nil
}

// VocabSize is one more than the largest id.
func (t *Tokenizer) VocabSize() int {
	n := 0
	for id := range t.decoder {
		n = max(n, id+1)
	}
	return n
}

// SpecialID returns the id of a special token such as EndOfText.
func (t *Tokenizer) SpecialID(s string) (int, bool) {
	id, ok := t.special[s]
	return id, ok
}

// Load reads vocab.json and merges.txt.
func Load(vocabPath, mergesPath string) (*Tokenizer, error) {
	vb, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(vb, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	mf, err := os.Open(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer mf.Close()
	merges, err := parseMerges(mf)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesPath, err)
	}
	var special []string
	if _, ok := vocab[EndOfText]; ok {
		special = append(special, EndOfText)
	}
	return New(vocab, merges, special)
}

func parseMerges(r io.Reader) ([][2]string, error) {
	var merges [][2]string
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for s.Scan() {
		line++
		l := strings.TrimRight(s.Text(), "\r")
		if line == 1 && strings.HasPrefix(l, "#version") || l == "" {
			continue
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("line %d: %q is not a merge of two tokens", line, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	return merges, s.Err()
}

// LoadDir loads tokenizer.json from dir, or vocab.json + merges.txt.
func LoadDir(dir string) (*Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, JSONFile)); err == nil {
		return LoadJSON(filepath.Join(dir, JSONFile))
	}
	return Load(filepath.Join(dir, VocabFile), filepath.Join(dir, MergesFile))
}

// LoadJSON reads a Hugging Face tokenizers tokenizer.json with a BPE model
// and byte-level pre-tokenizer (as GPT-2's).
func LoadJSON(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: %s: model type %q is not BPE", path, tj.Model.Type)
	}
	merges := make([][2]string, 0, len(tj.Model.Merges))
	for i, raw := range tj.Model.Merges {
		var s string
		var p [2]string
		if err := json.Unmarshal(raw, &s); err == nil {
			a, bb, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("tokenizer: %s: merge %d %q is not two tokens", path, i, s)
			}
			p = [2]string{a, bb}
		} else if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: merge %d: %w", path, i, err)
		}
		merges = append(merges, p)
	}
	vocab := tj.Model.Vocab
	var special []string
	for _, at := range tj.AddedTokens {
		vocab[at.Content] = at.ID
		if at.Special {
			special = append(special, at.Content)
		}
	}
	return New(vocab, merges, special)
}

// Save writes vocab.json and merges.txt (GPT-2's formats) into dir.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	vb, err := json.Marshal(t.encoder)
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, VocabFile), vb, 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	var sb strings.Builder
	sb.WriteString("#version: 0.2\n")
	for _, m := range t.merges {
		sb.WriteString(m.a + " " + m.b + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, MergesFile), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}

// Encode returns the token ids of text. Special-token strings in text are
// encoded as ordinary text, so user data cannot inject control tokens.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	preTokenize(text, func(piece string) {
		ids = append(ids, t.encodePiece(piece)...)
	})
	return ids
}

const maxCache = 1 << 16

func (t *Tokenizer) encodePiece(piece string) []int {
	if ids, ok := t.cache[piece]; ok {
		return ids
	}
	word := make([]string, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		word = append(word, string(byteToRune[piece[i]]))
	}
	for len(word) > 1 {
		best, bestRank := -1, int(^uint(0)>>1)
		for i := 0; i+1 < len(word); i++ {
			if r, ok := t.ranks[pair{word[i], word[i+1]}]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		// Merge every occurrence of the best pair, left to right, as GPT-2's bpe() does.
		p := t.merges[bestRank]
		out := word[:0:0]
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == p.a && word[i+1] == p.b {
				out = append(out, p.a+p.b)
				i += 2
			} else {
				out = append(out, word[i])
				i++
			}
		}
		word = out
	}
	ids := make([]int, len(word))
	for i, w := range word {
		ids[i] = t.encoder[w]
	}
	if len(t.cache) >= maxCache {
		clear(t.cache)
	}
	t.cache[piece] = ids
	return ids
}

// Decode turns ids back into text; invalid UTF-8 (a token boundary inside a
// character) becomes U+FFFD, and unknown ids are an error.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	b, err := t.DecodeBytes(ids)
	if err != nil {
		return "", err
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

// DecodeBytes returns the raw bytes of ids, for streaming where a character
// may span tokens.
func (t *Tokenizer) DecodeBytes(ids []int) ([]byte, error) {
	var out []byte
	for _, id := range ids {
		tok, ok := t.decoder[id]
		if !ok {
			return nil, fmt.Errorf("tokenizer: unknown token id %d", id)
		}
		if _, sp := t.special[tok]; sp {
			out = append(out, tok...)
			continue
		}
		for _, r := range tok {
			b, ok := runeToByte[r]
			if !ok {
				return nil, fmt.Errorf("tokenizer: token %d (%q) is not byte-level", id, tok)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// Clone returns a tokenizer sharing the tables but with its own cache.
func (t *Tokenizer) Clone() *Tokenizer {
	c := *t
	c.cache = map[string][]int{}
	return &c
}

// TokenString returns the vocabulary string of id (byte-level encoded).
func (t *Tokenizer) TokenString(id int) (string, bool) {
	s, ok := t.decoder[id]
	return s, ok
}
