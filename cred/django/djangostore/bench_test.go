package djangostore

import (
	"context"
	"testing"

	"github.com/gospread/spread/cred"
)

// BenchmarkCheckerLogin measures a full successful login through
// CheckCredentials against an SQLite store at the default count: lookup,
// verification and the last_login write. That write happens in the
// background, so the timed region ends with a Flush: the figure includes
// every write, not only the part the logins waited for.
func BenchmarkCheckerLogin(b *testing.B) {
	benchmarkCheckerLogin(b, nil)
}

// BenchmarkCheckerLoginReadOnly is the same without any write, for
// comparison.
func BenchmarkCheckerLoginReadOnly(b *testing.B) {
	benchmarkCheckerLogin(b, &Config{ReadOnly: true})
}

func benchmarkCheckerLogin(b *testing.B, cfg *Config) {
	ctx := context.Background()
	s := newSQLiteStore(b, cfg)
	if err := s.AddUser(ctx, "bench", []byte("correct horse battery staple")); err != nil {
		b.Fatal(err)
	}
	creds := &cred.UsernamePassword{Username: "bench", Password: []byte("correct horse battery staple")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.CheckCredentials(ctx, creds); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
