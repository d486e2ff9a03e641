package interop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django"
	"github.com/gospread/spread/cred/django/djangostore"
	"github.com/gospread/spread/pb"
)

// BenchmarkDjangoLogin measures whole PB logins (challenge refused,
// then Spread's password login over loopback, then release) against a
// Django SQLite store of pbkdf2_sha256 hashes at 260,000 iterations,
// with 1, 2 and 8 concurrent clients, next to the hash alone. The hash
// is the limit; the broker's share is the difference.
//
//	go test -run '^$' -bench DjangoLogin -benchtime 40x ./internal/interop
func BenchmarkDjangoLogin(b *testing.B) {
	const password = "correct horse"
	encoded := django.MakePasswordIterations([]byte(password), django.Django32Iterations)

	b.Run("hash-alone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if ok, err := django.Verify([]byte(password), encoded); !ok || err != nil {
				b.Fatal("verify failed", err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	})

	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(b.TempDir(), "db.sqlite3")
	const users = 8
	setup, err := djangostore.Open(ctx, dsn, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := setup.EnsureSchema(ctx); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < users; i++ {
		if err := setup.AddUser(ctx, fmt.Sprintf("u%d", i), []byte(password)); err != nil {
			b.Fatal(err)
		}
	}
	setup.Close()
	// Read-only: no last_login write, so the figures show the hash and
	// the broker. BenchmarkDjangoLastLogin below measures the write.
	st, err := djangostore.Open(ctx, dsn, &djangostore.Config{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	realm := cred.RealmFunc(func(context.Context, string, any) (any, func(), error) {
		return &struct{ pb.Avatar }{}, nil, nil
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := pb.NewServer(&pb.Config{
		Portal:   cred.NewPortal(realm, st),
		Logger:   quiet,
		Throttle: cred.NewThrottle(&cred.ThrottleConfig{MaxFailures: 1 << 30}),
	})
	go srv.Serve(ln)
	defer srv.Close()

	for _, clients := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
			brokers := make([]*pb.Broker, clients)
			for i := range brokers {
				br, err := pb.Dial(ctx, ln.Addr().String(), &pb.Config{Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				defer br.Close()
				brokers[i] = br
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i, br := range brokers {
				n := b.N / clients
				if i < b.N%clients {
					n++
				}
				wg.Add(1)
				go func(br *pb.Broker, user string, n int) {
					defer wg.Done()
					creds := &cred.UsernamePassword{Username: user, Password: []byte(password)}
					for j := 0; j < n; j++ {
						a, err := br.Login(ctx, creds, nil)
						if err != nil {
							errs <- err
							return
						}
						a.Release()
					}
				}(br, fmt.Sprintf("u%d", i%users), n)
			}
			wg.Wait()
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

// BenchmarkDjangoLastLogin is a checker login with the last_login
// UPDATE Django's ModelBackend does, without the broker.
func BenchmarkDjangoLastLogin(b *testing.B) {
	ctx := context.Background()
	st, err := djangostore.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.EnsureSchema(ctx); err != nil {
		b.Fatal(err)
	}
	if err := st.AddUser(ctx, "u", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	creds := &cred.UsernamePassword{Username: "u", Password: []byte("pw")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.CheckCredentials(ctx, creds); err != nil {
			b.Fatal(err)
		}
	}
	// The last_login writes happen in the background: count them too.
	if err := st.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
