package main

import (
	"math"
	"sort"
)

// Measurement is one row of the report: several runs of one thing, each
// run a set of named metrics, with the median, min, max and spread of
// every metric over the runs.
type Measurement struct {
	Section   string               `json:"section"`
	Name      string               `json:"name"`
	Params    map[string]any       `json:"params,omitempty"`
	Runs      []map[string]float64 `json:"runs"`
	Median    map[string]float64   `json:"median"`
	Min       map[string]float64   `json:"min"`
	Max       map[string]float64   `json:"max"`
	SpreadPct map[string]float64   `json:"spread_pct"` // (max-min)/median*100
	Error     string               `json:"error,omitempty"`
}

func (m *Measurement) summarize() {
	m.Median = map[string]float64{}
	m.Min = map[string]float64{}
	m.Max = map[string]float64{}
	m.SpreadPct = map[string]float64{}
	if len(m.Runs) == 0 {
		return
	}
	keys := map[string]bool{}
	for _, r := range m.Runs {
		for k := range r {
			keys[k] = true
		}
	}
	for k := range keys {
		var vs []float64
		for _, r := range m.Runs {
			if v, ok := r[k]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		sort.Float64s(vs)
		med := median(vs)
		m.Median[k] = round3(med)
		m.Min[k] = round3(vs[0])
		m.Max[k] = round3(vs[len(vs)-1])
		if med != 0 {
			m.SpreadPct[k] = round3((vs[len(vs)-1] - vs[0]) / math.Abs(med) * 100)
		}
	}
}

func (m *Measurement) med(k string) float64 {
	if m == nil || m.Error != "" {
		return math.NaN()
	}
	v, ok := m.Median[k]
	if !ok {
		return math.NaN()
	}
	return v
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile of sorted int64 samples (nearest rank).
func percentile(sorted []int64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(n))) - 1
	if i < 0 {
		i = 0
	}
	if i >= n {
		i = n - 1
	}
	return float64(sorted[i])
}

func round3(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return math.Round(v)
	case a >= 1:
		return math.Round(v*100) / 100
	default:
		return math.Round(v*10000) / 10000
	}
}
