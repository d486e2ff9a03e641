//go:build !race

package djangostore

const raceEnabled = false
