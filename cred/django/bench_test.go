package django

import (
	"context"
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

// BenchmarkCheckerLogin measures a full successful login through
// CheckCredentials against an SQLite store at the default count: lookup,
// verification and the last_login UPDATE.
func BenchmarkCheckerLogin(b *testing.B) {
	ctx := context.Background()
	s := newSQLiteStore(b, nil)
	if err := s.AddUser(ctx, "bench", []byte("correct horse battery staple")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Check(ctx, "bench", []byte("correct horse battery staple")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
