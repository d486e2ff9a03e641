package interop

import (
	"context"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/gospread/spread/internal/jellytest"

	"github.com/gospread/spread/internal/echo"
	"github.com/gospread/spread/internal/pypeer"
	"github.com/gospread/spread/jelly"
	"github.com/gospread/spread/pb"
)

func TestGoClientAgainstPythonEchoServer(t *testing.T) {
	p := pypeer.StartServer(t, "echo_server.py", "0")
	goBattery(t, p.Addr)
}

func TestGoClientAgainstGoEchoServer(t *testing.T) {
	goBattery(t, startGoEcho(t))
}

type goMind struct{ pb.Referenceable }

func (goMind) RemoteEcho(x any) any { return x }

// goBattery drives an echo service from Go and checks every answer,
// including the Go type each value comes back as.
func goBattery(t *testing.T, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := pb.Dial(ctx, addr, echo.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	root := b.Root()

	big64, _ := new(big.Int).SetString("18446744073709551616", 10)
	negBig := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 100))
	dict := jelly.NewDict()
	dict.Set("s", int64(1))
	dict.Set([]byte("b"), int64(2))
	dict.Set(int64(3), int64(3))
	dict.Set(jelly.Tuple{int64(1), "a"}, int64(4))
	shared := []any{int64(1)}
	values := map[string]any{
		"None": nil, "True": true, "False": false,
		"int0": int64(0), "int-1": int64(-1), "int2^31": int64(1 << 31), "int-2^31-1": int64(-1<<31 - 1),
		"int2^64": big64, "int-2^100": negBig,
		"float": 1.5, "inf": math.Inf(1),
		"str": "héllo 😀", "strEmpty": "", "strVocab": "list",
		"bytes": []byte{0, 0xff}, "bytesVocab": []byte("remote"), "bytesEmpty": []byte{},
		"list":      []any{int64(1), "two", []byte("three"), nil, true},
		"tuple":     jelly.Tuple{int64(1), jelly.Tuple{int64(2), "x"}},
		"dict":      dict,
		"set":       jelly.NewSet(int64(1), int64(2), int64(3)),
		"frozenset": jelly.NewFrozenSet([]byte("x")),
		"decimal":   jelly.Decimal{Digits: big.NewInt(314), Exp: -2},
		"datetime":  jelly.DateTime{Year: 2024, Month: 1, Day: 2, Hour: 3, Minute: 4, Second: 5, Microsecond: 6},
		"date":      jelly.Date{Year: 2024, Month: 1, Day: 2},
		"time":      jelly.Time{Hour: 3, Minute: 4, Second: 5, Microsecond: 6},
		"timedelta": jelly.TimeDelta{Days: -1},
		"shared":    []any{shared, shared},
	}
	for name, v := range values {
		got, err := root.CallRemote(ctx, "echo", v)
		if err != nil {
			t.Errorf("echo %s: %v", name, err)
			continue
		}
		if !jellytest.Equal(got, v) {
			t.Errorf("echo %s: got %#v (%T), want %#v (%T)", name, got, got, v, v)
		}
	}
	// Sharing survives the round trip.
	got, _ := root.CallRemote(ctx, "echo", values["shared"])
	if l, ok := got.([]any); !ok || len(l) != 2 || reflect.ValueOf(l[0]).Pointer() != reflect.ValueOf(l[1]).Pointer() {
		t.Errorf("shared sub-list did not stay shared: %#v", got)
	}

	check := func(name string, got any, err error, want any) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !jellytest.Equal(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	v, err := root.CallRemote(ctx, "echoKw", "x")
	check("echoKw(x)", v, err, []any{"x", "default"})
	v, err = root.CallRemote(ctx, "echoKw", "x", pb.Kw{"b": "y"})
	check("echoKw(x, b=y)", v, err, []any{"x", "y"})

	_, err = root.CallRemote(ctx, "fail", "boom")
	var re *pb.RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.ValueError" || re.Value != "boom" || !re.Check("builtins.ValueError") {
		t.Errorf("fail(boom) = %v", err)
	} else if re.Traceback == "" {
		t.Errorf("fail(boom): no traceback text")
	}
	_, err = root.CallRemote(ctx, "noSuchMethod")
	if !errors.As(err, &re) || !re.Check("builtins.AttributeError") {
		t.Errorf("noSuchMethod() = %v", err)
	}

	rv, err := root.CallRemote(ctx, "ref")
	ref, ok := rv.(*pb.RemoteReference)
	if err != nil || !ok {
		t.Fatalf("ref() = %#v, %v", rv, err)
	}
	v, err = ref.CallRemote(ctx, "add", int64(2), int64(3))
	check("add(2, 3)", v, err, int64(5))
	_, err = ref.CallRemote(ctx, "add", int64(2))
	if !errors.As(err, &re) || re.Type != "builtins.TypeError" {
		t.Errorf("add(2) = %v, want TypeError", err)
	}
	v, err = root.CallRemote(ctx, "same", ref)
	check("same(ref)", v, err, true)
	v, err = root.CallRemote(ctx, "same", nil)
	check("same(None)", v, err, false)
	rv2, err := root.CallRemote(ctx, "ref")
	if err != nil || rv2 != rv {
		t.Errorf("second ref() = %v, %v: want the same proxy", rv2, err)
	}

	v, err = root.CallRemote(ctx, "callback", &goMind{}, "hi")
	check("callback", v, err, "hi")

	pv, err := root.CallRemote(ctx, "point", int64(1), int64(2))
	if pt, ok := pv.(*echo.Point); err != nil || !ok || pt.X != 1 || pt.Y != 2 {
		t.Errorf("point(1, 2) = %#v, %v", pv, err)
	}
	v, err = root.CallRemote(ctx, "pointSum", &echo.Point{X: 3, Y: 4})
	check("pointSum", v, err, int64(7))

	cv, err := root.CallRemote(ctx, "counter")
	rc, ok := cv.(*echo.RemoteCounter)
	if err != nil || !ok {
		t.Fatalf("counter() = %#v, %v", cv, err)
	}
	n0 := rc.Value()
	v, err = root.CallRemote(ctx, "increment")
	check("increment", v, err, n0+1)
	select {
	case n := <-rc.Updates:
		if n != n0+1 {
			t.Errorf("observed %d, want %d", n, n0+1)
		}
	case <-ctx.Done():
		t.Error("no setValue reached the RemoteCounter")
	}

	// Fire-and-forget, then a normal call still works.
	if err := root.CallRemoteNoAnswer("echo", "nobody waits"); err != nil {
		t.Errorf("CallRemoteNoAnswer: %v", err)
	}
	v, err = root.CallRemote(ctx, "echo", "after")
	check("echo after no-answer", v, err, "after")
	if err := ref.Release(); err != nil {
		t.Errorf("Release: %v", err)
	}
	v, err = root.CallRemote(ctx, "echo", "end")
	check("echo after release", v, err, "end")
}
