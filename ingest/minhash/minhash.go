// Package minhash finds near-duplicate texts: MinHash signatures over word
// 3-shingles and LSH band keys for candidate search.
//
// Shingles: the text is split into words — maximal runs of Unicode letters,
// digits and marks, lower-cased; each Han, Hiragana or Katakana character is
// a word of its own, since those scripts don't separate words with spaces —
// and every run of 3 consecutive words is a shingle. A text of 1 or 2 words
// is one shingle; a text with no word at all is one shingle of its bytes.
// Punctuation, case and spacing therefore never matter.
//
// Signature: K = 120 values; value i is the minimum over the text's
// shingles of the top 32 bits of a_i*h + b_i (mod 2^64), where h is the
// shingle's 64-bit hash and a_i (odd), b_i come from a fixed SplitMix64
// sequence. The fraction of equal values estimates the Jaccard similarity
// of two texts' shingle sets (standard error ≤ 0.046).
//
// Banding: the signature is cut into B = 20 bands of R = 6 values; two texts
// are candidates when any band is equal, which BandKeys turns into 20
// 64-bit keys (the band number is part of the key, so one index over all
// keys suffices). The probability that a pair of Jaccard similarity s
// becomes a candidate is 1 - (1 - s^6)^20:
//
//	s     0.3     0.5     0.6     0.7     0.8     0.85    0.9
//	P     0.0145  0.270   0.615   0.918   0.9977  0.99992 1.0000
//
// so pairs at the Threshold of 0.8 are found 99.8% of the time, and
// unrelated texts (s < 0.1) almost never meet. Candidates are confirmed
// with Jaccard on the texts (or EstimateJaccard on the signatures).
//
// Band keys and sketches are stored, so the algorithm is fixed: Version names
// it, and a change must bump Version and recompute what was stored.
package minhash

import (
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Parameters of the scheme.
const (
	Version   = 1
	K         = 120 // signature values
	Bands     = 20
	Rows      = K / Bands
	Shingle   = 3   // words per shingle
	Threshold = 0.8 // Jaccard similarity from which texts are near-duplicates
)

// Signature is a text's MinHash signature.
type Signature [K]uint32

// perm holds the a_i, b_i of the K hash functions: read-only after init,
// derived from a fixed seed so that signatures are stable across processes.
var permA, permB = func() (a, b [K]uint64) {
	s := uint64(0x6d6f64656c666163) // "modelfac"
	for i := range K {
		a[i] = splitmix(&s) | 1
		b[i] = splitmix(&s)
	}
	return a, b
}()

func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix64(*s)
}

// mix64 is SplitMix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// appendShingles appends the hash of every shingle of text to dst.
func appendShingles(dst []uint64, text string) []uint64 {
	var win [Shingle]uint64
	n := 0
	push := func(t uint64) {
		t = mix64(t)
		if n < Shingle {
			win[n] = t
			n++
			if n == Shingle {
				dst = append(dst, shingleHash(win[0], win[1], win[2]))
			}
			return
		}
		win[0], win[1], win[2] = win[1], win[2], t
		dst = append(dst, shingleHash(win[0], win[1], win[2]))
	}
	var h uint64 = fnvOffset
	inWord := false
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				if inWord {
					push(h)
					h, inWord = fnvOffset, false
				}
				continue
			}
			h = (h ^ uint64(c)) * fnvPrime
			inWord = true
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana):
			if inWord {
				push(h)
			}
			push(hashRune(fnvOffset, r))
			h, inWord = fnvOffset, false
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			h = hashRune(h, unicode.ToLower(r))
			inWord = true
		default:
			if inWord {
				push(h)
				h, inWord = fnvOffset, false
			}
		}
	}
	if inWord {
		push(h)
	}
	switch {
	case n == 0:
		// No word: the bytes themselves are the only shingle.
		if text == "" {
			return dst
		}
		h := uint64(fnvOffset)
		for i := 0; i < len(text); i++ {
			h = (h ^ uint64(text[i])) * fnvPrime
		}
		dst = append(dst, mix64(h^0xa5a5a5a5a5a5a5a5))
	case n < Shingle:
		dst = append(dst, shingleHash(win[0], win[1], win[2]))
	}
	return dst
}

func hashRune(h uint64, r rune) uint64 {
	var buf [utf8.UTFMax]byte
	for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

func shingleHash(a, b, c uint64) uint64 {
	return mix64(a*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(b, 23)*0xc2b2ae3d27d4eb4f ^ bits.RotateLeft64(c, 47)*0x165667b19e3779f9)
}

// Sign computes text's signature. The empty text has every value at
// math.MaxUint32.
func Sign(text string) Signature {
	// The shingle hashes are gathered first, then each of the K functions
	// takes its minimum over them in a tight loop (four independent
	// minima, so the multiplications overlap): about three times faster
	// than updating all K values per shingle.
	var buf [512]uint64
	hs := appendShingles(buf[:0], text)
	var sig Signature
	for i := range sig {
		a, b := permA[i], permB[i]
		m0, m1, m2, m3 := uint64(math.MaxUint32), uint64(math.MaxUint32), uint64(math.MaxUint32), uint64(math.MaxUint32)
		j := 0
		for ; j+4 <= len(hs); j += 4 {
			m0 = min(m0, (a*hs[j]+b)>>32)
			m1 = min(m1, (a*hs[j+1]+b)>>32)
			m2 = min(m2, (a*hs[j+2]+b)>>32)
			m3 = min(m3, (a*hs[j+3]+b)>>32)
		}
		for ; j < len(hs); j++ {
			m0 = min(m0, (a*hs[j]+b)>>32)
		}
		sig[i] = uint32(min(m0, m1, m2, m3))
	}
	return sig
}

// BandKeys returns the signature's LSH keys, one per band, as int64 so they
// fit a PostgreSQL bigint as they are. Two signatures share a key only in
// the same band.
func BandKeys(sig Signature) [Bands]int64 {
	var keys [Bands]int64
	for band := range Bands {
		h := uint64(fnvOffset) ^ uint64(band)*0x9e3779b97f4a7c15
		for _, v := range sig[band*Rows : (band+1)*Rows] {
			h = mix64(h ^ uint64(v))
		}
		keys[band] = int64(h)
	}
	return keys
}

// EstimateJaccard estimates the Jaccard similarity of the texts behind two
// signatures: the fraction of equal values.
func EstimateJaccard(a, b Signature) float64 {
	eq := 0
	for i := range a {
		if a[i] == b[i] {
			eq++
		}
	}
	return float64(eq) / K
}

// Sketch is a signature cut to the low 8 bits of each value (b-bit
// MinHash, Li and König 2010): 120 bytes that still estimate the Jaccard
// similarity, small enough to keep for every record of a large file while
// comparing them in memory. Two different values agree by chance once in
// 256, which the estimate takes out; what remains is about one equal value
// in 120 more or less than the full signature counts.
type Sketch [K]uint8

// Sketch returns the signature's sketch.
func (s Signature) Sketch() Sketch {
	var k Sketch
	for i, v := range s {
		k[i] = uint8(v)
	}
	return k
}

// EstimateSketchJaccard estimates the Jaccard similarity of the texts
// behind two sketches: the fraction of equal values, less the chance
// agreements of 8-bit values.
func EstimateSketchJaccard(a, b *Sketch) float64 {
	eq := 0
	for i := range a {
		if a[i] == b[i] {
			eq++
		}
	}
	const chance = 1.0 / 256
	return max(0, (float64(eq)/K-chance)/(1-chance))
}

// Jaccard is the exact Jaccard similarity of the shingle sets of two texts
// (1 for two texts without shingles).
func Jaccard(a, b string) float64 {
	sa := make(map[uint64]struct{})
	for _, h := range appendShingles(nil, a) {
		sa[h] = struct{}{}
	}
	sb := make(map[uint64]struct{})
	for _, h := range appendShingles(nil, b) {
		sb[h] = struct{}{}
	}
	if len(sa) == 0 && len(sb) == 0 {
		return 1
	}
	inter := 0
	for h := range sb {
		if _, ok := sa[h]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}
