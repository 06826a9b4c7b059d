package tokenizer

import (
	"container/heap"
	"errors"
	"fmt"
	"iter"
	"sort"
)

// MaxVocab is the largest vocabulary Train builds, so ids fit in uint16.
const MaxVocab = 65535

// Train learns a byte-level BPE of vocabSize tokens (256 byte tokens, the
// learned merges, then the special tokens) from texts, with GPT-2's
// pre-tokenization. It is deterministic: ties between equally frequent pairs
// go to the lexicographically smaller pair.
func Train(texts iter.Seq[string], vocabSize int, special []string) (*Tokenizer, error) {
	if vocabSize > MaxVocab {
		return nil, fmt.Errorf("tokenizer: vocabulary %d exceeds %d", vocabSize, MaxVocab)
	}
	if vocabSize < 256+len(special) {
		return nil, fmt.Errorf("tokenizer: vocabulary %d cannot hold 256 bytes and %d special tokens", vocabSize, len(special))
	}
	counts := map[string]int{}
	for text := range texts {
		preTokenize(text, func(p string) { counts[p]++ })
	}
	if len(counts) == 0 {
		return nil, errors.New("tokenizer: empty corpus")
	}
	uniq := make([]string, 0, len(counts))
	for w := range counts {
		uniq = append(uniq, w)
	}
	sort.Strings(uniq)
	words := make([][]int32, len(uniq))
	freq := make([]int64, len(uniq))
	for i, w := range uniq {
		ids := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			ids[j] = int32(w[j])
		}
		words[i], freq[i] = ids, int64(counts[w])
	}
	syms := make([]string, 256)
	for b := 0; b < 256; b++ {
		syms[b] = string(byteToRune[b])
	}
	st := &bpeState{syms: syms, pc: map[[2]int32]int64{}, where: map[[2]int32][]int32{}}
	for w, ids := range words {
		for j := 0; j+1 < len(ids); j++ {
			p := [2]int32{ids[j], ids[j+1]}
			st.pc[p] += freq[w]
			st.where[p] = append(st.where[p], int32(w))
		}
	}
	for p, c := range st.pc {
		heap.Push(st, heapItem{p, c})
	}
	seen := make([]int32, len(words))
	var merges [][2]string
	target := vocabSize - len(special)
	for len(syms) < target && st.Len() > 0 {
		top := heap.Pop(st).(heapItem)
		if st.pc[top.p] != top.count || top.count < 2 {
			continue // stale, or nothing worth merging
		}
		newID := int32(len(syms))
		a, b := top.p[0], top.p[1]
		syms = append(syms, syms[a]+syms[b])
		st.syms = syms
		merges = append(merges, [2]string{syms[a], syms[b]})
		changed := map[[2]int32]bool{}
		for _, w := range st.where[top.p] {
			if seen[w] == newID {
				continue
			}
			seen[w] = newID
			ids := words[w]
			has := false
			for j := 0; j+1 < len(ids); j++ {
				if ids[j] == a && ids[j+1] == b {
					has = true
					break
				}
			}
			if !has {
				continue
			}
			for j := 0; j+1 < len(ids); j++ {
				p := [2]int32{ids[j], ids[j+1]}
				st.pc[p] -= freq[w]
				changed[p] = true
			}
			out := ids[:0]
			for j := 0; j < len(ids); {
				if j+1 < len(ids) && ids[j] == a && ids[j+1] == b {
					out = append(out, newID)
					j += 2
				} else {
					out = append(out, ids[j])
					j++
				}
			}
			words[w] = out
			for j := 0; j+1 < len(out); j++ {
				p := [2]int32{out[j], out[j+1]}
				st.pc[p] += freq[w]
				changed[p] = true
				if out[j] == newID || out[j+1] == newID {
					st.where[p] = append(st.where[p], int32(w))
				}
			}
		}
		delete(st.where, top.p)
		for p := range changed {
			if c := st.pc[p]; c > 0 {
				heap.Push(st, heapItem{p, c})
			} else {
				delete(st.pc, p)
			}
		}
	}
	vocab := make(map[string]int, len(syms)+len(special))
	for id, s := range syms {
		vocab[s] = id
	}
	for _, s := range special {
		if _, dup := vocab[s]; dup {
			return nil, fmt.Errorf("tokenizer: special token %q collides with a learned token", s)
		}
		vocab[s] = len(vocab)
	}
	return New(vocab, merges, special)
}

type heapItem struct {
	p     [2]int32
	count int64
}

type bpeState struct {
	items []heapItem
	syms  []string
	pc    map[[2]int32]int64
	where map[[2]int32][]int32
}

func (s *bpeState) Len() int { return len(s.items) }
func (s *bpeState) Less(i, j int) bool {
	a, b := s.items[i], s.items[j]
	if a.count != b.count {
		return a.count > b.count
	}
	if sa, sb := s.syms[a.p[0]], s.syms[b.p[0]]; sa != sb {
		return sa < sb
	}
	return s.syms[a.p[1]] < s.syms[b.p[1]]
}
func (s *bpeState) Swap(i, j int) { s.items[i], s.items[j] = s.items[j], s.items[i] }
func (s *bpeState) Push(x any)    { s.items = append(s.items, x.(heapItem)) }
func (s *bpeState) Pop() any {
	x := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return x
}
