package banana_test

import (
	"fmt"

	"github.com/gospread/spread/banana"
)

// Encode a PB version message in both dialects: in dialect pb the word
// "version" travels as vocabulary entry 19.
func ExampleEncoder_Append() {
	msg := []any{"version", 6}
	for _, d := range []banana.Dialect{banana.DialectNone, banana.DialectPB} {
		enc := banana.Encoder{Dialect: d}
		wire, err := enc.Append(nil, msg)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-4s % x\n", d, wire)
	}
	_, err := (&banana.Encoder{}).Append(nil, true)
	fmt.Println(err)
	// Output:
	// none 02 80 07 82 76 65 72 73 69 6f 6e 06 81
	// pb   02 80 13 87 06 81
	// banana: cannot encode bool: unsupported type (Banana carries lists, integers, floats and byte strings)
}

// Decode a stream that arrives in arbitrary pieces. The first expression is
// the client's dialect choice; the emit callback switches the decoder to it,
// so the VOCAB in the second expression, read in the same Feed, is understood.
func ExampleDecoder_Feed() {
	stream := []byte{
		0x02, 0x82, 'p', 'b', // b"pb", the client's choice (dialect none)
		0x02, 0x80, 0x13, 0x87, 0x06, 0x81, // [V19 = b"version", 6]
	}
	dec := banana.NewDecoder(nil)
	emit := func(v any) error {
		if dec.Dialect() == banana.DialectNone {
			d, err := banana.AcceptChoice(v)
			if err != nil {
				return err
			}
			dec.SetDialect(d)
			fmt.Println("dialect:", d)
			return nil
		}
		msg := v.([]any)
		fmt.Printf("%s %d\n", msg[0], msg[1])
		return nil
	}
	for _, piece := range [][]byte{stream[:3], stream[3:]} {
		if err := dec.Feed(piece, emit); err != nil {
			panic(err)
		}
	}
	fmt.Println("buffered:", dec.Buffered())
	// Output:
	// dialect: pb
	// version 6
	// buffered: 0
}

// A limit violation is reported as soon as the header arrives.
func ExampleLimitError() {
	dec := banana.NewDecoder(&banana.Config{SizeLimit: 1024})
	err := dec.Feed([]byte{0x00, 0x10, 0x82}, nil) // STRING of 2048 bytes
	fmt.Println(err)
	// Output:
	// banana: SizeLimit exceeded: 2048 > 1024
}

// The client side of negotiation: pick from the server's offer.
func ExampleChooseDialect() {
	offer := banana.AppendOffer(nil) // what a Twisted server sends
	fmt.Printf("offer  % x\n", offer)
	var d banana.Dialect
	dec := banana.NewDecoder(nil)
	dec.Feed(offer, func(v any) (err error) {
		d, err = banana.ChooseDialect(v)
		return err
	})
	fmt.Printf("answer % x (%s)\n", banana.AppendChoice(nil, d), d)
	// Output:
	// offer  02 80 02 82 70 62 04 82 6e 6f 6e 65
	// answer 02 82 70 62 (pb)
}
