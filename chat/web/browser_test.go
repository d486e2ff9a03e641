package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gospread/spread/chat/web"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/pb"
)

// chromiumPath is Debian's Chromium (scripts/test installs it).
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium. A test that cannot start it
// fails: the browser is a real part, never skipped.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is missing (%v): scripts/test installs Debian's chromium", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // the tests run as root
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(1100, 760),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser, which lives as long as that
	// call's context: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("cannot start Chromium: %v", err)
	}
	return ctx
}

// shots is where failing browser steps leave their screenshots; it
// outlives the test so that the failure can be looked at.
func shots(t *testing.T) string {
	if d := os.Getenv("SPREAD_SCREENSHOTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	d, err := os.MkdirTemp("", "spread-browser-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run does one step in the page, within a time limit. On failure it
// saves a screenshot and says where.
func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := chromedp.Do(sctx, actions...)
	if err == nil {
		return
	}
	path := screenshot(t, ctx, strings.NewReplacer(" ", "-", "/", "-").Replace(step))
	t.Fatalf("%s: %v\nscreenshot: %s", step, err, path)
}

// value runs one action that returns a value, like run.
func value[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		path := screenshot(t, ctx, strings.NewReplacer(" ", "-", "/", "-").Replace(step))
		t.Fatalf("%s: %v\nscreenshot: %s", step, err, path)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	path := filepath.Join(shots(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "(none: " + err.Error() + ")"
	}
	return path
}

// waitJS waits until the expression is true in the page. Unlike
// chromedp.Poll it lives through navigations (a form's submission):
// an evaluation that a navigation interrupts is tried again.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				last = err
			}
			select {
			case <-ctx.Done():
				if last != nil {
					return chromedp.Void{}, fmt.Errorf("%w (last evaluation: %v)", ctx.Err(), last)
				}
				return chromedp.Void{}, fmt.Errorf("%w waiting for %s", ctx.Err(), expr)
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
}

// textContains waits until the element's text contains want.
func textContains(sel, want string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want))
}

// membersAre waits until the member list is exactly want.
func membersAre(want ...string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`Array.from(document.querySelectorAll("#members li")).map(e => e.textContent).join(",") === %q`, strings.Join(want, ",")))
}

// The chat in a real browser, with a real Twisted client in the same
// group: login, a wrong password, messages both ways, the mattress
// rule, live member lists, logout closing the socket of another tab,
// and the back button after logout.
func TestBrowserChatWithTwistedClient(t *testing.T) {
	s := newSite(t, siteOptions{webConfig: &web.Config{MembersInterval: 50 * time.Millisecond, Logger: quietLogger()}})
	pbs := pb.NewServer(&pb.Config{Portal: s.Portal, Logger: quietLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go pbs.Serve(ln)
	t.Cleanup(func() { pbs.Close() })

	ctx := newBrowser(t)
	loginURL := s.URL + "/login"

	run(t, ctx, "wrong password",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not-"+alicePassword+"\r"),
		textContains(`#login-error`, "The user name or password is not correct."),
	)
	run(t, ctx, "login",
		chromedp.SetValue(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), alicePassword+"\r"),
		textContains(`#user`, "alice"),
		textContains(`#status`, "Connected"),
	)
	run(t, ctx, "join with no mattress",
		chromedp.SendKeys(chromedp.CSS(`input[name=group]`), "#web"),
		chromedp.Click(chromedp.CSS(`#no-mattress`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=group]`), "\r"),
		chromedp.WaitVisible(chromedp.CSS(`#room`)),
		textContains(`#group-name`, "#web"),
		membersAre("alice"),
	)

	// bob, Twisted's chat client, joins, says hello, and waits for
	// alice's answer (his own line and hers: two lines).
	ready := filepath.Join(t.TempDir(), "ready")
	type result struct {
		out, stderr string
		err         error
	}
	bobc := make(chan result, 1)
	go func() {
		o, e, err := pypeer.RunClient(t, 40*time.Second, "chat/chat_member.py", ln.Addr().String(), "bob", bobPassword, "#web",
			"--send", "hello from Twisted", "--ready-file", ready, "--expect", "2", "--timeout", "30")
		bobc <- result{o, e, err}
	}()
	run(t, ctx, "Twisted's line and bob in the member list",
		textContains(`#messages`, "<bob> says: hello from Twisted"),
		membersAre("alice", "bob"),
	)
	run(t, ctx, "send to Twisted",
		chromedp.SendKeys(chromedp.CSS(`input[name=message]`), "hi from the browser\r"),
		textContains(`#messages`, "<alice> says: hi from the browser"),
	)
	var bob result
	select {
	case bob = <-bobc:
	case <-time.After(45 * time.Second):
		t.Fatal("the Twisted client did not finish")
	}
	if want := "<bob> says: hello from Twisted\n<alice> says: hi from the browser\n"; bob.err != nil || bob.out != want {
		t.Fatalf("the Twisted client: %v\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", bob.err, bob.out, want, bob.stderr)
	}
	run(t, ctx, "bob left the member list", membersAre("alice"))

	run(t, ctx, "the mattress rule",
		chromedp.SendKeys(chromedp.CSS(`input[name=message]`), "a mattress\r"),
		chromedp.WaitVisible(chromedp.CSS(`#error`)),
		textContains(`#error`, "Don't say that word"),
	)
	if os.Getenv("SPREAD_SCREENSHOTS") != "" {
		t.Logf("screenshot of the mattress error: %s", screenshot(t, ctx, "mattress"))
	}
	run(t, ctx, "a line after the refusal",
		chromedp.SendKeys(chromedp.CSS(`input[name=message]`), "a pillow, then\r"),
		textContains(`#messages`, "<alice> says: a pillow, then"),
	)
	lines := value(t, ctx, "read the lines",
		chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#messages li")).map(e => e.textContent)`))
	want := []string{"<bob> says: hello from Twisted", "<alice> says: hi from the browser", "<alice> says: a pillow, then"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page shows\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if os.Getenv("SPREAD_SCREENSHOTS") != "" {
		t.Logf("screenshot of the conversation: %s", screenshot(t, ctx, "conversation"))
	}

	// A second tab of the same session; the logout in the first one
	// closes its WebSocket.
	tab2, cancelTab2 := chromedp.NewContext(ctx)
	defer cancelTab2()
	if err := chromedp.Do(tab2); err != nil { // opens the tab, for tab2's lifetime
		t.Fatalf("second tab: %v", err)
	}
	run(t, tab2, "second tab",
		chromedp.Navigate(s.URL+"/"),
		textContains(`#status`, "Connected"),
		chromedp.SendKeys(chromedp.CSS(`input[name=group]`), "#web\r"),
		membersAre("alice", "alice"),
	)
	run(t, ctx, "logout",
		chromedp.Click(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
	)
	run(t, tab2, "the other tab's socket closed",
		textContains(`#status`, "Your session has ended."),
	)
	if g := s.Chat.Group("#web"); len(g.Members()) != 0 {
		t.Errorf("#web after logout: %v", g.Members())
	}
	run(t, ctx, "back button after logout",
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
	)
	loc := value(t, ctx, "location", chromedp.Location())
	title := value(t, ctx, "title", chromedp.Title())
	if !strings.HasPrefix(loc, loginURL) || title != "Log in" {
		t.Errorf("back after logout shows %q (%q), not the login page", loc, title)
	}
	rooms := value(t, ctx, "no chat after back", chromedp.Evaluate[int](`document.querySelectorAll("#room, #messages").length`))
	if rooms != 0 {
		t.Errorf("the chat came back after logout")
	}
}

// Over HTTPS, as a server others can reach serves it: the __Host-
// cookie, a wss: socket under the page's CSP.
func TestBrowserChatOverHTTPS(t *testing.T) {
	s := newSite(t, siteOptions{tls: true})
	// httptest's certificate is its own; the browser is told to accept it.
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	run(t, ctx, "login over HTTPS",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "bob"),
		chromedp.SendKeys(chromedp.CSS(`#password`), bobPassword+"\r"),
		textContains(`#status`, "Connected as bob"),
	)
	cookie := value(t, ctx, "cookie", chromedp.Evaluate[string](`document.cookie`))
	if cookie != "" {
		t.Errorf("the session cookie is readable from JavaScript: %q", cookie)
	}
	run(t, ctx, "chat over wss",
		chromedp.SendKeys(chromedp.CSS(`input[name=group]`), "#secure\r"),
		membersAre("bob"),
		chromedp.SendKeys(chromedp.CSS(`input[name=message]`), "over TLS\r"),
		textContains(`#messages`, "<bob> says: over TLS"),
	)
	if g := s.Chat.Group("#secure"); g == nil || len(g.Members()) != 1 {
		t.Errorf("#secure: %v", g)
	}
}
