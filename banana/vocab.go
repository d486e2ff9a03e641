package banana

// vocab is the pb dialect's vocabulary; index 0 is unused. The table is fixed
// by the protocol and identical in both directions.
var vocab = [...]string{
	1:  "None",
	2:  "class",
	3:  "dereference",
	4:  "reference",
	5:  "dictionary",
	6:  "function",
	7:  "instance",
	8:  "list",
	9:  "module",
	10: "persistent",
	11: "tuple",
	12: "unpersistable",
	13: "copy",
	14: "cache",
	15: "cached",
	16: "remote",
	17: "local",
	18: "lcache",
	19: "version",
	20: "login",
	21: "password",
	22: "challenge",
	23: "logged_in",
	24: "not_logged_in",
	25: "cachemessage",
	26: "message",
	27: "answer",
	28: "error",
	29: "decref",
	30: "decache",
	31: "uncache",
}

// vocabValues holds each word boxed once as a Go string, so that decoding a
// VOCAB element hands out a shared value without allocating.
var vocabValues = func() (out [len(vocab)]any) {
	for i, w := range vocab[1:] {
		out[i+1] = w
	}
	return out
}()

// vocabIndex maps a word to its index.
var vocabIndex = func() map[string]int {
	m := make(map[string]int, len(vocab)-1)
	for i, w := range vocab[1:] {
		m[w] = i + 1
	}
	return m
}()

// Vocabulary word lengths span 4..13 bytes; anything else is no word.
const (
	minVocabLen = 4
	maxVocabLen = 13
)

// VocabIndex returns the pb vocabulary index (1..31) of word.
func VocabIndex(word []byte) (int, bool) {
	if len(word) < minVocabLen || len(word) > maxVocabLen {
		return 0, false
	}
	i, ok := vocabIndex[string(word)]
	return i, ok
}

func vocabIndexString(word string) (int, bool) {
	if len(word) < minVocabLen || len(word) > maxVocabLen {
		return 0, false
	}
	i, ok := vocabIndex[word]
	return i, ok
}

// VocabWord returns a fresh copy of the pb vocabulary word with index i (1..31).
// (The Decoder gives VOCAB elements as shared Go strings instead.)
func VocabWord(i int) ([]byte, bool) {
	if i < 1 || i >= len(vocab) {
		return nil, false
	}
	return []byte(vocab[i]), true
}
