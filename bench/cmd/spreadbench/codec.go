package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/gospread/spread/banana"
	"github.com/gospread/spread/jelly"
)

// codecCase is one typical PB message: a call (message, id, object,
// method, answer-required, jellied args tuple, jellied kwargs dict) or
// an answer (answer, id, jellied result), as Twisted's Broker sends them.
type codecCase struct {
	name string
	desc string
	call bool
	args []any // call: the positional args; answer: args[0] is the result
}

func structArg() map[string]any {
	items := make([]any, 10)
	for i := range items {
		items[i] = map[string]any{"sku": "item-" + strconv.Itoa(i), "qty": int64(i + 1), "price": 9.99 + float64(i)}
	}
	scores := make([]any, 10)
	for i := range scores {
		scores[i] = float64(i) + 0.5
	}
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	return map[string]any{
		"id":     int64(123456),
		"name":   "alice",
		"active": true,
		"tags":   []any{"red", "green", "blue"},
		"scores": scores,
		"items":  items,
		"blob":   blob,
		"owner":  nil,
	}
}

func codecCases(payload string) []codecCase {
	return []codecCase{
		{"call-small", "callRemote(\"echo\", <31-char str>)", true, []any{payload}},
		{"answer-small", "the answer: <31-char str>", false, []any{payload}},
		{"call-struct", "callRemote(\"update\", {dict: ints, floats, str, list of 10 dicts, 256 B bytes}, 42, \"note\")", true, []any{structArg(), int64(42), "note"}},
	}
}

// encodeMsg jellies and bananas one message, appending to dst.
func encodeMsg(enc *banana.Encoder, dst []byte, c codecCase) ([]byte, error) {
	var msg []any
	if c.call {
		args, err := jelly.Marshal(jelly.Tuple(c.args), nil)
		if err != nil {
			return nil, err
		}
		kw, err := jelly.Marshal(map[string]any{}, nil)
		if err != nil {
			return nil, err
		}
		method := "echo"
		if len(c.args) > 1 {
			method = "update"
		}
		msg = []any{"message", int64(1), int64(0), method, int64(1), args, kw}
	} else {
		res, err := jelly.Marshal(c.args[0], nil)
		if err != nil {
			return nil, err
		}
		msg = []any{"answer", int64(1), res}
	}
	return enc.Append(dst, msg)
}

// decodeMsg unbananas and unjellies one message.
func decodeMsg(dec *banana.Decoder, wire []byte) error {
	var got any
	if err := dec.Feed(wire, func(v any) error { got = v; return nil }); err != nil {
		return err
	}
	l, ok := got.([]any)
	if !ok || len(l) < 3 {
		return fmt.Errorf("decoded %T", got)
	}
	tag, _ := jelly.String(l[0])
	switch tag {
	case "message":
		if len(l) != 7 {
			return fmt.Errorf("message of %d elements", len(l))
		}
		if _, err := jelly.Unmarshal(l[5], nil); err != nil {
			return err
		}
		if _, err := jelly.Unmarshal(l[6], nil); err != nil {
			return err
		}
	case "answer":
		if _, err := jelly.Unmarshal(l[2], nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("decoded tag %q", tag)
	}
	return nil
}

// timed runs op for d (at least 100 times) and returns ns/op, allocs/op
// and bytes/op.
func timed(d time.Duration, op func() error) (nsPerOp, allocsPerOp, bytesPerOp float64, err error) {
	for i := 0; i < 1000; i++ { // warm
		if err := op(); err != nil {
			return 0, 0, 0, err
		}
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	n := 0
	for ; n < 100_000_000; n++ {
		if n%256 == 0 && n >= 100 && time.Since(start) >= d {
			break
		}
		if err := op(); err != nil {
			return 0, 0, 0, err
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return float64(el.Nanoseconds()) / float64(n), float64(m1.Mallocs-m0.Mallocs) / float64(n),
		float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n), nil
}

func runCodec(ctx context.Context, o *options) []*Measurement {
	var out []*Measurement
	d := max(o.duration/3, 100*time.Millisecond)
	cases := codecCases(o.payload)
	enc := &banana.Encoder{Dialect: banana.DialectPB}
	for _, c := range cases {
		wire, err := encodeMsg(enc, nil, c)
		for _, dir := range []string{"encode", "decode"} {
			m := &Measurement{Section: "codec", Name: "spread " + c.name + " " + dir,
				Params: map[string]any{"impl": "spread", "case": c.name, "op": dir, "desc": c.desc, "wire_bytes": len(wire)}}
			out = append(out, m)
			if err != nil {
				m.Error = err.Error()
				continue
			}
			var op func() error
			if dir == "encode" {
				buf := make([]byte, 0, 4096)
				op = func() error {
					var err error
					buf, err = encodeMsg(enc, buf[:0], c)
					return err
				}
			} else {
				dec := banana.NewDecoder(nil)
				dec.SetDialect(banana.DialectPB)
				op = func() error { return decodeMsg(dec, wire) }
			}
			for r := 0; r < o.runs && ctx.Err() == nil; r++ {
				ns, allocs, bytes, err := timed(d, op)
				if err != nil {
					m.Error = err.Error()
					break
				}
				m.Runs = append(m.Runs, map[string]float64{
					"ns_per_op":     ns,
					"mb_per_s":      float64(len(wire)) / ns * 1e3,
					"msgs_per_s":    1e9 / ns,
					"allocs_per_op": allocs,
					"bytes_per_op":  bytes,
					"wire_bytes":    float64(len(wire)),
				})
			}
			m.summarize()
			logf("codec: %-26s %5d B  %8.0f ns/op  %7.1f MB/s  %5.1f allocs/op  %6.0f B/op",
				m.Name, len(wire), m.med("ns_per_op"), m.med("mb_per_s"), m.med("allocs_per_op"), m.med("bytes_per_op"))
		}
	}

	// Twisted's banana+jelly on the same messages, for the ratio.
	logf("codec: twisted")
	p, err := startProc("codec.py", o.benchDir, nil, o.python, "-u", filepath.Join(o.benchDir, "py", "codec.py"),
		"--duration", fmt.Sprint(d.Seconds()), "--runs", strconv.Itoa(o.runs), "--payload", o.payload)
	var res map[string][]map[string]float64
	if err == nil {
		var l string
		l, err = p.expect("RESULT ", 2*time.Minute+time.Duration(o.runs*6)*d, nil)
		p.stop()
		if err == nil {
			err = json.Unmarshal([]byte(l[len("RESULT "):]), &res)
		}
	}
	for _, c := range cases {
		for _, dir := range []string{"encode", "decode"} {
			m := &Measurement{Section: "codec", Name: "twisted " + c.name + " " + dir,
				Params: map[string]any{"impl": "twisted", "case": c.name, "op": dir}}
			out = append(out, m)
			if err != nil {
				m.Error = err.Error()
				continue
			}
			m.Runs = res[c.name+" "+dir]
			if len(m.Runs) == 0 {
				m.Error = "no result from codec.py"
			}
			m.summarize()
			logf("codec: %-26s %5.0f B  %8.0f ns/op  %7.1f MB/s", m.Name, m.med("wire_bytes"), m.med("ns_per_op"), m.med("mb_per_s"))
		}
	}
	return out
}
