package jelly_test

import (
	"fmt"

	"github.com/gospread/spread/jelly"
)

func ExampleLossy() {
	// Output cut in the middle of "€" (e2 82 ac), as Python's
	// b"cut \xe2\x82 here".decode("utf-8", "replace") gives it.
	fmt.Printf("%+q\n", jelly.Lossy("cut \xe2\x82 here"))
	// Output: "cut \ufffd here"
}
