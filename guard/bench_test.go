package guard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSessionRequest measures one request in a valid session, the
// guard's per-request cost (compare BenchmarkBareRequest).
func BenchmarkSessionRequest(b *testing.B) {
	e := newEnv(b, nil)
	sid := loginB(b, e)
	r := withCookie(req("GET", "/x", nil), sid)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		e.g.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkBareRequest(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello alice")) })
	r := req("GET", "/x", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

func loginB(b *testing.B, e *env) string {
	w := httptest.NewRecorder()
	e.g.ServeHTTP(w, req("POST", "/login", loginForm("alice", alicePW, "")))
	c := sessionCookie(w)
	if c == nil {
		b.Fatal("no login")
	}
	return c.Value
}
