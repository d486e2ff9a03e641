package guard_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
	"github.com/gospread/spread/guard"
)

// A realm gives each user an http.Handler; the guard asks for it at
// login and serves it for that user's session.
func Example() {
	realm := cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
		if iface != cred.IHTTPHandler {
			return nil, nil, &cred.InterfaceError{Interface: iface}
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello, %s", id)
		}), func() { fmt.Println("logout", id) }, nil
	})
	portal := cred.NewPortal(realm, checkers.NewInMemory(map[string]string{"fred": "flintstone"}))
	g, err := guard.New(portal, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()

	// What a browser would send over HTTPS.
	do := func(method, path, cookie string, form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://example.test"+path, strings.NewReader(form.Encode()))
		r.TLS = &tls.ConnectionState{}
		r.Header.Set("Accept", "text/html")
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: guard.CookieName, Value: cookie})
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}

	w := do("GET", "/", "", nil)
	fmt.Println(w.Code, w.Header().Get("Location"))

	w = do("POST", "/login", "", url.Values{"username": {"fred"}, "password": {"flintstone"}, "next": {"/"}})
	session := w.Result().Cookies()[0]
	fmt.Println(w.Code, w.Header().Get("Location"), session.Name)

	w = do("GET", "/", session.Value, nil)
	fmt.Println(w.Code, w.Body)

	w = do("POST", "/logout", session.Value, url.Values{})
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// 303 /login?next=%2F
	// 303 / __Host-spread-session
	// 200 Hello, fred
	// logout fred
	// 303 /login
}

// Sessions in SQLite (or PostgreSQL) survive a restart and can be shared
// by several front-ends.
func ExampleOpenSQLStore() {
	ctx := context.Background()
	store, err := guard.OpenSQLStore(ctx, "sqlite:file:example?mode=memory&cache=shared")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	portal := cred.NewPortal(cred.InterfaceRealmFunc(func(ctx context.Context, id string, mind any, iface cred.Interface) (any, func(), error) {
		return http.NotFoundHandler(), nil, nil
	}), checkers.NewInMemory(map[string]string{"fred": "flintstone"}))
	g, err := guard.New(portal, &guard.Config{Store: store})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	fmt.Println(g.LoginPath(), g.LogoutPath())
	// Output: /login /logout
}
