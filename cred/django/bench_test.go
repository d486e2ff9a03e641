package django

import (
	"crypto/sha256"
	"testing"
)

// BenchmarkPBKDF2SHA256_260000 measures the hash alone at Django 3.2's
// default count: one op is one login's worth of hashing.
func BenchmarkPBKDF2SHA256_260000(b *testing.B) {
	for b.Loop() {
		encodePBKDF2(AlgPBKDF2SHA256, sha256.New, []byte("correct horse battery staple"), "abcdefghijklmnopqrstuv", Django32Iterations)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}
