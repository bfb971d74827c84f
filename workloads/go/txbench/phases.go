// The warm-up before go-txbench's timed part, and the time series of the
// whole run: txbench_phases.c in Go, with the same flags and keys.
//
// Warm-up (--warmup=S, --warmup-cycles=N): requests from a stream index of
// their own (warmupFirst on) until Go has completed N automatic cycles or
// S seconds passed, whichever first (N alone: S = warmupMax). Its puts
// write the record their key always has, so the timed part's checksum is
// the one without warm-up.
//
// The sampler (--series) is one goroutine that wakes once a second and
// reads the requests the phase's run handed out (atomic loads), Go's
// cycles and heap from runtime/metrics (which stops nothing, unlike
// ReadMemStats) and the RSS from /proc/self/statm. A phase change is read
// by the run's goroutine at the moment it happens and sent to the sampler
// (a channel of one: the next change waits until the sampler took it), so
// a phase's last sample is shorter than a second and the timed samples
// cover exactly the timed part.

package main

import (
	"fmt"
	"math"
	"os"
	"runtime/metrics"
	"time"
)

const (
	warmupFirst = uint64(1) << 62 // the warm-up's requests: far from the timed part's 0, 1, 2, ...
	warmupMax   = 60.0            // most seconds of a warm-up given only --warmup-cycles
)

// counters are what a sample is the difference of, but heapMB (a gauge).
type counters struct {
	cycles uint64  // automatic cycles completed
	heapMB float64 // heap spans in use, MiB
}

var metricNames = []string{
	"/gc/cycles/automatic:gc-cycles",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
}

func readCounters() counters {
	m := make([]metrics.Sample, len(metricNames))
	for i, n := range metricNames {
		m[i].Name = n
	}
	metrics.Read(m)
	u := func(i int) uint64 {
		if m[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return m[i].Value.Uint64()
	}
	return counters{cycles: u(0), heapMB: float64(u(1)+u(2)) / 1048576}
}

// reading is the counters at a moment and the requests the phase's run had
// handed out.
type reading struct {
	t     time.Time
	c     counters
	taken uint64
}

func readNow(r *run) reading {
	x := reading{c: readCounters(), t: time.Now()}
	if r != nil {
		x.taken = r.taken()
	}
	return x
}

// sample is one second of the run (a phase's last is shorter).
type sample struct {
	t, seconds float64 // the end, from the first phase's start; the length
	timed      bool    // in the timed part; else in the warm-up
	txnPerSec  float64
	heapMB     float64
	rssMB      float64
	cycles     uint64 // completed in it
}

// edge is a phase change: the old phase's end and the new one's start
// (apart in their runs' requests only).
type edge struct {
	timed, done bool
	run         *run
	end, start  reading
}

// phases is the run's warm-up and sampler; one run per process.
type phases struct {
	series      bool
	edges       chan edge     // the run's goroutine to the sampler
	finished    chan struct{} // closed when the sampler returns
	t0          time.Time     // the first phase's start
	samples     []sample      // the sampler's until finished
	cur         *run          // the phase's run (the run's goroutine's)
	warm        run
	ended       string
	warmSeconds float64
	warmCycles  uint64
}

var ph = phases{ended: "off"}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	var size, resident uint64
	if err != nil {
		return math.NaN()
	}
	if n, _ := fmt.Sscan(string(b), &size, &resident); n != 2 {
		return math.NaN()
	}
	return float64(resident) * float64(os.Getpagesize()) / 1048576
}

func (p *phases) add(a, b reading, timed bool) {
	secs := b.t.Sub(a.t).Seconds()
	tps := math.NaN()
	if secs > 0 {
		tps = float64(b.taken-a.taken) / secs
	}
	p.samples = append(p.samples, sample{
		t: b.t.Sub(p.t0).Seconds(), seconds: secs, timed: timed, txnPerSec: tps,
		heapMB: b.c.heapMB, rssMB: rssMB(), cycles: b.c.cycles - a.c.cycles,
	})
}

func (p *phases) sampler(first edge) {
	defer close(p.finished)
	from, run, timed := first.start, first.run, first.timed
	tick := time.NewTimer(time.Second)
	for {
		select {
		case e := <-p.edges:
			p.add(from, e.end, timed)
			if e.done {
				return
			}
			from, run, timed = e.start, e.run, e.timed
		case <-tick.C:
			to := readNow(run)
			p.add(from, to, timed)
			from = to
		}
		if !tick.Stop() {
			select {
			case <-tick.C:
			default:
			}
		}
		tick.Reset(time.Second)
	}
}

// enter is a phase change to r (nil: the end): the edge to the sampler,
// which starts with the first phase.
func (p *phases) enter(r *run, timed, done bool) {
	if !p.series {
		return
	}
	end := readNow(p.cur)
	start := end
	start.taken = 0
	if r != nil {
		start.taken = r.taken()
	}
	e := edge{timed: timed, done: done, run: r, end: end, start: start}
	if p.edges == nil {
		p.edges, p.finished, p.t0 = make(chan edge, 1), make(chan struct{}), start.t
		go p.sampler(e)
	} else {
		p.edges <- e
	}
	p.cur = r
}

// warmup runs the warm-up o asks for through drive (none: returns at once)
// and, with --series, starts the sampler.
func (p *phases) warmup(o *options, drive func(*run)) {
	p.series = o.series
	if o.warmup <= 0 && o.warmupCycles <= 0 {
		return
	}
	max := o.warmup
	if max <= 0 {
		max = warmupMax
	}
	w := &p.warm
	c0 := readCounters().cycles
	w.first, w.limit, w.what, w.start = warmupFirst, math.MaxUint64, "warm-up requests", time.Now()
	w.deadline = time.Duration(max * 1e9)
	if o.warmupCycles > 0 {
		w.cycles = func() uint64 { return readCounters().cycles }
		w.cyclesUntil = c0 + uint64(o.warmupCycles)
	}
	progressf("warming up: until %d cycles or %.0f s", o.warmupCycles, max)
	p.enter(w, false, false)
	drive(w)
	p.warmSeconds = time.Since(w.start).Seconds()
	p.warmCycles = readCounters().cycles - c0
	p.ended = "seconds"
	if w.cycles != nil && p.warmCycles >= uint64(o.warmupCycles) {
		p.ended = "cycles"
	}
	progressf("warmed up: %d cycles in %.1f s", p.warmCycles, p.warmSeconds)
}

// timed: the timed part begins with r (newRun calls it); the peak RSS
// restarts here.
func (p *phases) timed(r *run) {
	if !resetPeakRSS() {
		progressf("cannot reset the peak RSS (/proc/self/clear_refs): peak_rss_mb covers the whole process")
	}
	p.enter(r, true, false)
}

// end: after the timed part, the sampler stops; the warm-up's figures and
// the samples into res.
func (p *phases) end(res *result) {
	if p.series {
		p.enter(nil, false, true)
		<-p.finished
		res.series = p.samples
	}
	res.warmupEnded, res.warmupSeconds, res.warmupCycles = p.ended, p.warmSeconds, p.warmCycles
	res.warmupTransactions = p.warm.taken()
}
