//go:build httpd

// go-httpd: a net/http server running go-txbench's handler, the Go
// counterpart of toc's httpd (workloads/httpd.c). Built from this package
// with -tags httpd, so the handler, the store and the figures are the same
// code as go-txbench's. net/http parses the request (its own way, in Go's
// idiom); the handler then parses the query, the headers and the JSON body
// into the same structures, reads or replaces the record and builds the
// same JSON response. --suite=tfb serves TechEmpower's test types instead
// (tfb.go), as httpd --suite=tfb does. SIGINT/SIGTERM: shut down
// gracefully, print the figures (--json: one object on stdout), exit 0.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fromHTTP fills a request from what net/http parsed; false when the
// handler cannot use it (the C handler's 400 cases).
func fromHTTP(r *http.Request, body []byte) (*request, bool) {
	const prefix = "/api/items/"
	q := &request{raw: body, method: r.Method, path: r.URL.Path}
	q.query = newMap(8)
	rq := []byte(r.URL.RawQuery)
	parseQuery(q.query, rq, 0, len(rq))
	q.headers = newMap(16)
	q.headers.put("host", r.Host) // net/http takes Host out of the header map
	for k, vs := range r.Header {
		for _, v := range vs {
			q.headers.put(strings.ToLower(k), v)
		}
	}
	if len(q.path) <= len(prefix) || q.path[:len(prefix)] != prefix {
		return q, false
	}
	q.key = strings.Clone(q.path[len(prefix):])
	j := jp{b: body, p: 0, end: len(body)}
	q.body = j.value(0)
	return q, !j.bad
}

// served counts the requests a handler answered and their latencies.
type served struct {
	requests atomic.Uint64
	mu       sync.Mutex
	h        hist
}

// done counts a request started at t0.
func (s *served) done(t0 time.Time) {
	s.requests.Add(1)
	ns := uint64(time.Since(t0))
	s.mu.Lock()
	s.h.add(ns)
	s.mu.Unlock()
}

type server struct {
	st *store
	served
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		} else {
			w.WriteHeader(http.StatusBadRequest)
		}
		return
	}
	q, ok := fromHTTP(r, body)
	sb := make([]byte, 0, 256)
	status := http.StatusOK
	if ok {
		sb = respond(s.st, q, sb)
	} else {
		status = http.StatusBadRequest
		sb = append(sb, `{"status":400}`...)
	}
	rid := r.Header.Get("X-Request-Id")
	if rid == "" {
		rid = "-"
	}
	hd := w.Header()
	hd["Content-Type"] = []string{"application/json"}
	hd["Content-Length"] = []string{strconv.Itoa(len(sb))}
	hd["X-Request-Id"] = []string{rid}
	w.WriteHeader(status)
	w.Write(sb)
	s.done(t0)
}

func main() {
	procsClock.initial = runtime.GOMAXPROCS(0)
	fs := flag.NewFlagSet("go-httpd", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8080, "port (0 picks one, printed on stderr)")
	procs := fs.Int("procs", runtime.NumCPU(), "GOMAXPROCS")
	suite := fs.String("suite", "txbench", "txbench: go-txbench's handler and store; tfb: TechEmpower's /json, /db,\n"+
		"/queries?queries=N, /fortunes and /updates?queries=N over a 10,000-row World table and the 12 fortunes")
	liveMB := fs.Int64("live-mb", 256, "the shared store's size in MiB (txbench suite only)")
	gogc := fs.Int("gogc", 100, "GOGC percent (-1: off)")
	duration := fs.Float64("duration", 0, "stop by itself after this many seconds (0: at SIGINT/SIGTERM)")
	jsonOut := fs.Bool("json", false, "figures as one JSON object on stdout at exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go-httpd [flags]\nA net/http server running go-txbench's handler (POST or PUT /api/items/k<N>)\n"+
			"or TechEmpower's test types (--suite=tfb).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fatal(2, "unexpected argument %q", fs.Arg(0))
	}
	if *port < 0 || *port > 65535 || *procs < 1 || *liveMB < 1 || *duration < 0 {
		fatal(2, "--port, --procs, --live-mb or --duration out of range (see --help)")
	}
	if *suite != "txbench" && *suite != "tfb" {
		fatal(2, "--suite=%s: not txbench or tfb", *suite)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "live-mb" && *suite == "tfb" {
			fatal(2, "--live-mb sizes txbench's store, which --suite=tfb does not build (its live heap is its database)")
		}
	})
	runtime.GOMAXPROCS(*procs)
	procsClock.set, procsClock.setAt = *procs, time.Now()
	debug.SetGCPercent(*gogc)
	var handler http.Handler
	var counts *served
	var data string
	if *suite == "tfb" {
		t := &tfbHandler{db: buildTFB(0)}
		handler, counts = t, &t.served
		data = fmt.Sprintf("suite tfb, %d World rows, %d fortunes", len(t.db.world)-1, len(t.db.fortunes))
	} else {
		o := &options{liveMB: *liveMB, procs: *procs, nkeys: uint64(*liveMB) * 1048576 / recordBytes}
		if o.nkeys < 16 {
			o.nkeys = 16
		}
		progressf("building the store: %d records", o.nkeys)
		s := &server{st: buildStore(o)}
		handler, counts = s, &s.served
		data = fmt.Sprintf("store %d MiB", *liveMB)
	}
	runtime.GC()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fatal(1, "cannot listen: %v", err)
	}
	// The handler is in place before the line that tells a harness it may
	// signal us: a SIGINT that came before it killed the process (exit -2).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Fprintf(os.Stderr, "go-httpd: listening on %s (%d procs, %s)\n", ln.Addr(), *procs, data)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		MaxHeaderBytes: 16384}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	done := make(chan struct{})
	go func() {
		var timeout <-chan time.Time
		if *duration > 0 {
			timeout = time.After(time.Duration(*duration * float64(time.Second)))
		}
		select {
		case <-sig:
		case <-timeout:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fatal(1, "serve: %v", err)
	}
	<-done
	secs := time.Since(t0).Seconds()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(handler)
	n := counts.requests.Load()
	gcCPU := (gcCPUNs(&after) - gcCPUNs(&before)) / 1e9
	maxUS, p99US := pauseFigures(&after, after.NumGC-before.NumGC)
	figs := []struct {
		k string
		v float64
	}{
		{"transactions", float64(n)}, {"seconds", secs}, {"txn_per_sec", float64(n) / secs},
		{"txn_p50_us", counts.h.quantileUS(0.5)}, {"txn_p99_us", counts.h.quantileUS(0.99)},
		{"gc_cycles", float64(after.NumGC - before.NumGC)}, {"gc_cpu_seconds", gcCPU},
		{"gc_cpu_fraction", gcCPU / (secs * float64(*procs))}, {"stw_max_us", maxUS}, {"stw_p99_us", p99US},
		{"peak_rss_mb", peakRSSMB()}, {"allocated_mb", float64(after.TotalAlloc-before.TotalAlloc) / 1048576},
	}
	if *jsonOut {
		b := []byte(`{"mode":"go","driver":"net/http, a goroutine per connection","suite":"` + *suite + `"`)
		for _, f := range figs {
			b = append(append(append(b, ",\""...), f.k...), "\":"...)
			b = strconv.AppendFloat(b, f.v, 'f', 4, 64)
		}
		os.Stdout.Write(append(b, "}\n"...))
	} else {
		for _, f := range figs {
			fmt.Printf("%-16s %.4f\n", f.k, f.v)
		}
	}
}
