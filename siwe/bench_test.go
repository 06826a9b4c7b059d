package siwe

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(specExample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEOA(b *testing.B) {
	key := mustKey(b)
	text := testMessage(crypto.PubkeyToAddress(key.PublicKey)).String()
	sig := sign(b, key, text)
	v := testVerifier()
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, text, sig); err != nil {
			b.Fatal(err)
		}
	}
}
