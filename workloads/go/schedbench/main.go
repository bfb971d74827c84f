// Command go-schedbench measures scheduler costs of the Go runtime. It is
// the reference that the C runtime's scheduler benchmark is compared
// against, so each measurement follows exactly the method the C side uses.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result keeps the JSON keys in a fixed order; json.Number lets the timed
// figures keep their trailing ".0" so both implementations print alike.
type result struct {
	Runtime          string      `json:"runtime"`
	Procs            int         `json:"procs"`
	SwitchNs         json.Number `json:"switch_ns"`
	ChanPingpongNs   json.Number `json:"chan_pingpong_ns"`
	SpawnExitNs      json.Number `json:"spawn_exit_ns"`
	ParkedGoroutines int         `json:"parked_goroutines"`
	RSSPerParkedKiB  json.Number `json:"rss_per_parked_kib"`
}

func progress(what string) { fmt.Fprintf(os.Stderr, "go-schedbench: measuring %s ...\n", what) }

// median runs f trials times; the median resists one-off noise (GC, other
// processes) better than the mean on a small machine.
func median(trials int, f func() float64) float64 {
	v := make([]float64, trials)
	for i := range v {
		v[i] = f()
	}
	sort.Float64s(v)
	if trials%2 == 1 {
		return v[trials/2]
	}
	return (v[trials/2-1] + v[trials/2]) / 2
}

// measureSwitch pins the runtime to one P so every Gosched is a real switch
// between the two goroutines rather than parallel spinning.
func measureSwitch(rounds int) float64 {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for i := 0; i < 2; i++ {
		go func() {
			defer wg.Done()
			for j := 0; j < rounds; j++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(2*rounds)
}

// measurePingPong times one full round trip over two unbuffered channels.
func measurePingPong(rounds int) float64 {
	ping, pong := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			ping <- i
			<-pong
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			pong <- <-ping
		}
	}()
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(rounds)
}

// measureSpawn spawns from a single goroutine so the cost includes handing
// new goroutines to other workers, as the C spawner does.
func measureSpawn(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			go wg.Done()
		}
	}()
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// rssBytes reads resident pages from /proc/self/statm (second field).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fatal(2, "reading /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		fatal(2, "unexpected /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		fatal(2, "parsing /proc/self/statm: %v", err)
	}
	return pages * int64(os.Getpagesize())
}

// measureParked returns the RSS growth per parked goroutine in KiB. Memory
// is returned to the OS first so the baseline is not inflated by garbage.
func measureParked(n int) float64 {
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes()
	release := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer exited.Done()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	// Give the runtime time to settle so every stack is faulted in.
	time.Sleep(200 * time.Millisecond)
	after := rssBytes()
	close(release)
	exited.Wait()
	return float64(after-before) / 1024 / float64(n)
}

func fatal(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-schedbench: "+format+"\n", args...)
	os.Exit(code)
}

func round(x float64, digits int) json.Number {
	p := math.Pow(10, float64(digits))
	return json.Number(strconv.FormatFloat(math.Round(x*p)/p, 'f', digits, 64))
}

func main() {
	asJSON := flag.Bool("json", false, "print exactly one JSON object on stdout instead of a table")
	goroutines := flag.Int("goroutines", 1000000, "number of parked goroutines for the RSS measurement (>= 1)")
	rounds := flag.Int("rounds", 2000000, "iterations of the switch and channel ping-pong loops (>= 1)")
	spawn := flag.Int("spawn", 1000000, "goroutines started in the spawn/exit test (>= 1)")
	trials := flag.Int("trials", 5, "times each timed figure is measured; the median is reported (>= 1)")
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS for the multi-worker tests (>= 1)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: go-schedbench [flags]\n\n"+
				"Measures Go scheduler costs: Gosched switch, unbuffered channel\n"+
				"ping-pong, goroutine spawn+exit, and RSS per parked goroutine.\n"+
				"Flags may be written -x, --x, -x=V or --x=V.\n\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "go-schedbench: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"goroutines", *goroutines}, {"rounds", *rounds}, {"spawn", *spawn}, {"trials", *trials}, {"procs", *procs}} {
		if c.v < 1 {
			fatal(2, "invalid value %d for --%s: must be >= 1", c.v, c.name)
		}
	}

	runtime.GOMAXPROCS(*procs)
	r := result{Runtime: runtime.Version(), Procs: *procs, ParkedGoroutines: *goroutines}
	progress("switch")
	r.SwitchNs = round(median(*trials, func() float64 { return measureSwitch(*rounds) }), 1)
	progress("chan_pingpong")
	r.ChanPingpongNs = round(median(*trials, func() float64 { return measurePingPong(*rounds) }), 1)
	progress("spawn_exit")
	r.SpawnExitNs = round(median(*trials, func() float64 { return measureSpawn(*spawn) }), 1)
	progress("parked goroutines RSS")
	r.RSSPerParkedKiB = round(measureParked(*goroutines), 2)

	if *asJSON {
		out, err := json.Marshal(r)
		if err != nil {
			fatal(1, "encoding JSON: %v", err)
		}
		fmt.Println(string(out))
		return
	}
	fmt.Printf("%-20s %s\n", "runtime", r.Runtime)
	fmt.Printf("%-20s %d\n", "procs", r.Procs)
	fmt.Printf("%-20s %s ns\n", "switch", r.SwitchNs)
	fmt.Printf("%-20s %s ns\n", "chan ping-pong", r.ChanPingpongNs)
	fmt.Printf("%-20s %s ns\n", "spawn+exit", r.SpawnExitNs)
	fmt.Printf("%-20s %d\n", "parked goroutines", r.ParkedGoroutines)
	fmt.Printf("%-20s %s KiB\n", "RSS per parked", r.RSSPerParkedKiB)
}
