// Command go-txbench is txbench (workloads/txbench/txbench.c) in Go: the same
// HTTP-like transaction workload over Go's heap, so that Go's collector can
// be compared with toc's on identical work.
//
// Each request (generated deterministically from --seed and its index, byte
// for byte as txbench generates it) is an HTTP/1.1 POST or PUT with headers,
// a query string and a JSON body of --items items on average. The handler
// (txbench_handler.c, translated) copies the request to the heap, parses
// it into a query map, a header map and a JSON tree, reads its record from a
// shared store of about --live-mb MiB and, for --publish-pct of the
// requests, replaces that record with one built from the body; with
// --churn-kb it publishes that many KiB into a bounded ring of --churn-mb
// MiB that evicts its oldest entry (with --publish-bytes-pct, an entry of
// that share of what it allocates); then it builds and "writes" a JSON
// response. Everything but the store's records and the ring's entries dies
// with the request.
//
// The sum of the responses' FNV-1a hashes is printed as checksum: with
// --requests it equals txbench's for the same flags, in every mode and
// driver. The JSON object has txbench's keys; the collector figures cover
// the timed part only (see gcSample for how each is read from Go 1.19).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	prog        = "go-txbench"
	reqMax      = 96 * 1024 // largest generated request, bytes
	recordBytes = 640       // a store record's heap, about (sizes --live-mb)
	fnvInit     = 0xcbf29ce484222325
	histBuckets = 1024
	gogcOff     = -1
)

// processStart is read as the program starts, close to the runtime's own
// start (see gcCPUNs).
var processStart = time.Now()

func fatal(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
	os.Exit(code)
}

func progressf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
}

// --- options -----------------------------------------------------------------------------------

type options struct {
	driver       string // "loop" or "spawn"
	procs        int    // GOMAXPROCS
	workers      int    // loop driver: long-lived request loops
	inflight     int    // spawn driver: request goroutines at once
	liveMB       int64  // the shared store's size
	items        int    // mean items per request body
	publishPct   int    // requests that replace a store record
	churnKB      int64  // KiB each request publishes into the churn ring (0: no ring)
	churnMB      int64  // the churn ring's capacity, MiB
	pubBytesPct  int64  // share of its allocation a request publishes into the ring, % (0: none)
	duration     float64
	requests     int64   // a fixed number of requests instead (0: --duration)
	warmup       float64 // most seconds of warm-up before the timed part (0: see phases.go)
	warmupCycles int64   // warm up until the run completed this many cycles (0: none)
	series       bool    // a sample a second in the JSON
	seed         uint64  // the request stream
	gogc         int     // percent, or gogcOff
	json         bool
	nkeys        uint64 // store records, from liveMB
	downstream   string // "none", "chan" or "socket" (downstream.go)
	downstreamUS int64  // the backend's delay, µs
}

// intFlag is an integer flag with bounds; a bad value ends the program with
// the same message txbench gives.
type intFlag struct {
	name     string
	dst      *int64
	min, max int64
}

func (f *intFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return strconv.FormatInt(*f.dst, 10)
}

func (f *intFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fatal(2, "--%s=%q: not an integer", f.name, s)
	}
	if v < f.min || v > f.max {
		fatal(2, "--%s=%d: must be between %d and %d", f.name, v, f.min, f.max)
	}
	*f.dst = v
	return nil
}

// funcFlag parses its value with set.
type funcFlag func(string)

func (f funcFlag) String() string     { return "" }
func (f funcFlag) Set(s string) error { f(s); return nil }

// parseSize reads a byte count with an optional unit (K, M, G, T; KB, KiB,
// ..., case-insensitive), as txbench's --memlimit does.
func parseSize(flagName, s string, min, max uint64) uint64 {
	if s == "" || s[0] < '0' || s[0] > '9' {
		fatal(2, "--%s=%q: not a size (e.g. 512K, 64MiB, 2G)", flagName, s)
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	v, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		fatal(2, "--%s=%q: too large", flagName, s)
	}
	shifts := map[string]uint{"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
		"g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}
	shift, ok := shifts[strings.ToLower(s[i:])]
	if !ok {
		fatal(2, "--%s=%q: unknown unit %q (use K, M, G or T)", flagName, s, s[i:])
	}
	if v > math.MaxUint64>>shift {
		fatal(2, "--%s=%q: too large", flagName, s)
	}
	if b := v << shift; b >= min && b <= max {
		return b
	}
	fatal(2, "--%s=%s: must be between %d and %d bytes", flagName, s, min, max)
	return 0
}

const usageText = `usage: go-txbench [options]
txbench's HTTP-like transaction workload over Go's heap: parse a request (request
line, query string, headers, JSON body), read and sometimes replace a record of a
shared store, build a JSON response. One run per process; with --requests the
checksum equals txbench's for the same flags.

  --mode=go          the only mode (accepted for txbench's command lines)
  --driver=D         loop: long-lived goroutines, one request after another;
                     spawn: a goroutine per request (default loop)
  --procs=N          GOMAXPROCS (default: GOMAXPROCS, else CPUs)
  --workers=N        loop driver: request loops (default: --procs)
  --inflight=N       spawn driver: request goroutines at once (default 64)
  --live-mb=M        the shared store, about M MiB of records (default 256)
  --items=N          mean items per request body, 1..128 (default 16)
  --publish-pct=P    requests that replace their record, 0..100 (default 5)
  --churn-kb=N       KiB each request publishes into the churn ring, a cache
                     that evicts its oldest entry: published garbage at a set
                     rate, 0..4096 (default 0: no ring)
  --churn-mb=M       the churn ring's capacity, MiB, 1..65536 (default 32): it
                     holds M x 1024 / N entries, live on top of --live-mb
  --publish-bytes-pct=P  share of what a request allocates that it publishes into
                     the churn ring (an entry sized from the request's items as
                     txbench sizes it, so the entries are txbench's), 0..90
                     (default 0: none); not with --churn-kb
  --duration=S       seconds of requests (default 5)
  --requests=N       run exactly N requests instead of --duration
  --warmup=S         at most S seconds of warm-up before the timed part (default 0:
                     none, unless --warmup-cycles asks for one; then 60)
  --warmup-cycles=N  warm up until Go has completed N cycles of its own (automatic),
                     or --warmup seconds passed, whichever first (default 0: warm
                     up --warmup seconds). The figures cover the timed part only;
                     warm-up requests come from elsewhere in the stream, so
                     checksums are unchanged
  --series           a sample per second of the whole run, warm-up included, in the
                     JSON ("series"; default off)
  --seed=N           the request stream (default 1)
  --gogc=N|off       debug.SetGCPercent (default: GOGC, else 100)
  --memlimit=SIZE    debug.SetMemoryLimit, e.g. 2G, or off (default: GOMEMLIMIT)
  --downstream=D     none, chan or socket: mid-request each request asks a backend
                     and parks until the answer (see txbench --help; socket: a pool
                     of at most 4096 socketpair connections) (default none)
  --downstream-us=D  the backend's delay, microseconds, 0..10000000 (default 1000)
  --json             print one JSON object on stdout
  --help             this text

JSON keys: txbench's (see txbench --help); mode is "go", the toc fractions are 0,
marking_bytes_fraction is null, and in "series" marking_fraction is null (Go has no
counter of marking time) and heap_inuse_mb is /memory/classes/heap/objects plus
/memory/classes/heap/unused (runtime/metrics: no stop-the-world).
`

func parseFlags() *options {
	o := &options{driver: "loop", duration: 5, downstream: "none", downstreamUS: 1000}
	var procs, workers int64
	inflight, liveMB, items, publishPct, requests, seed := int64(64), int64(256), int64(16), int64(5), int64(0), int64(1)
	o.churnMB = 32
	gogcSet, memlimit := false, int64(-1)
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(funcFlag(func(s string) {
		if s != "go" {
			fatal(2, "--mode: unknown value %q (expected: go)", s)
		}
	}), "mode", "")
	fs.Var(funcFlag(func(s string) {
		if s != "loop" && s != "spawn" {
			fatal(2, "--driver: unknown value %q (expected: loop spawn)", s)
		}
		o.driver = s
	}), "driver", "")
	fs.Var(&intFlag{"procs", &procs, 1, 256}, "procs", "")
	fs.Var(&intFlag{"workers", &workers, 1, 100000}, "workers", "")
	fs.Var(&intFlag{"inflight", &inflight, 1, 1000000}, "inflight", "")
	fs.Var(&intFlag{"live-mb", &liveMB, 1, 1 << 20}, "live-mb", "")
	fs.Var(&intFlag{"items", &items, 1, 128}, "items", "")
	fs.Var(&intFlag{"publish-pct", &publishPct, 0, 100}, "publish-pct", "")
	fs.Var(&intFlag{"churn-kb", &o.churnKB, 0, 4096}, "churn-kb", "")
	fs.Var(&intFlag{"churn-mb", &o.churnMB, 1, 65536}, "churn-mb", "")
	fs.Var(&intFlag{"publish-bytes-pct", &o.pubBytesPct, 0, 90}, "publish-bytes-pct", "")
	fs.Var(&intFlag{"requests", &requests, 1, math.MaxInt64 / 2}, "requests", "")
	fs.Var(&intFlag{"warmup-cycles", &o.warmupCycles, 0, 1000000}, "warmup-cycles", "")
	fs.BoolVar(&o.series, "series", false, "")
	fs.Var(funcFlag(func(s string) {
		d, err := strconv.ParseFloat(s, 64)
		if err != nil || !(d >= 0) || d > 86400 {
			fatal(2, "--warmup=%s: expected seconds, at least 0 and at most 86400", s)
		}
		o.warmup = d
	}), "warmup", "")
	fs.Var(&intFlag{"seed", &seed, 0, math.MaxInt64}, "seed", "")
	fs.Var(funcFlag(func(s string) {
		d, err := strconv.ParseFloat(s, 64)
		if err != nil || !(d > 0) || d > 86400 {
			fatal(2, "--duration=%s: expected seconds, more than 0 and at most 86400", s)
		}
		o.duration = d
	}), "duration", "")
	fs.Var(funcFlag(func(s string) {
		gogcSet = true
		if strings.EqualFold(s, "off") {
			o.gogc = gogcOff
			return
		}
		var v int64
		(&intFlag{"gogc", &v, 1, 1000000}).Set(s)
		o.gogc = int(v)
	}), "gogc", "")
	fs.Var(funcFlag(func(s string) {
		if strings.EqualFold(s, "off") {
			memlimit = math.MaxInt64
			return
		}
		memlimit = int64(parseSize("memlimit", s, 1<<20, 1<<50))
	}), "memlimit", "")
	fs.Var(funcFlag(func(s string) {
		if s != "none" && s != "chan" && s != "socket" {
			fatal(2, "--downstream: unknown value %q (expected: none chan socket)", s)
		}
		o.downstream = s
	}), "downstream", "")
	fs.Var(&intFlag{"downstream-us", &o.downstreamUS, 0, 10000000}, "downstream-us", "")
	fs.BoolVar(&o.json, "json", false, "")
	help := fs.Bool("help", false, "")
	err := fs.Parse(os.Args[1:])
	if *help || errors.Is(err, flag.ErrHelp) {
		fmt.Print(usageText)
		os.Exit(0)
	}
	if err != nil {
		fatal(2, "%v (flags are --name=value; --help lists them)", err)
	}
	if fs.NArg() > 0 {
		fatal(2, "unexpected argument %q (flags are --name=value; --help lists them)", fs.Arg(0))
	}

	if procs == 0 {
		procs = int64(runtime.GOMAXPROCS(0))
	}
	o.procs = int(procs)
	o.workers = int(workers)
	if o.workers == 0 {
		o.workers = o.procs
	}
	o.inflight, o.liveMB, o.items, o.publishPct = int(inflight), liveMB, int(items), int(publishPct)
	o.requests, o.seed = requests, uint64(seed)
	if gogcSet {
		debug.SetGCPercent(o.gogc)
	} else {
		// The runtime's own reading of GOGC: set a value, get the old one back.
		o.gogc = debug.SetGCPercent(100)
		debug.SetGCPercent(o.gogc)
		if o.gogc < 0 {
			o.gogc = gogcOff
		}
	}
	if memlimit >= 0 {
		debug.SetMemoryLimit(memlimit)
	}
	if o.pubBytesPct > 0 && o.churnKB > 0 {
		fatal(2, "--publish-bytes-pct and --churn-kb both size the churn ring's entries; set one")
	}
	o.nkeys = uint64(o.liveMB) * 1048576 / recordBytes
	if o.nkeys < 16 {
		o.nkeys = 16
	}
	return o
}

// --- the request stream --------------------------------------------------------------------------

// next is splitmix64, the stream's only generator (txbench's next).
func next(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fnv is FNV-1a, continued from h (start with fnvInit).
func fnv[T string | []byte](h uint64, b T) uint64 {
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 0x100000001b3
	}
	return h
}

const hexDigits = "0123456789abcdef"

// appendHex16 is printf's %016llx.
func appendHex16(b []byte, v uint64) []byte {
	for sh := 60; sh >= 0; sh -= 4 {
		b = append(b, hexDigits[(v>>uint(sh))&15])
	}
	return b
}

func appendU(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// recgen is a record's contents, a function of its key alone (txbench's
// txb_record_gen): the store is built from it and a put request carries it.
// Its buffers are reused from one record to the next.
type recgen struct {
	name, email []byte
	ntags       int
	tags        [6][]byte
	profile     []byte
}

func (r *recgen) gen(key uint64) {
	s := key*0x9e3779b97f4a7c15 ^ 0x5851f42d4c957f2d
	r.name = append(appendU(append(r.name[:0], "name-"...), key), '-')
	r.name = appendU(r.name, next(&s)%10000)
	r.email = append(appendU(append(r.email[:0], "user"...), key), "@example.com"...)
	r.ntags = 2 + int(next(&s)%5)
	for i := 0; i < r.ntags; i++ {
		r.tags[i] = appendU(append(r.tags[i][:0], "tag-"...), next(&s)%1000)
	}
	n := 64 + int(next(&s)%448)
	r.profile = r.profile[:0]
	var h uint64
	for i := 0; i < n; i++ {
		if i%16 == 0 {
			h = next(&s)
		}
		r.profile = append(r.profile, hexDigits[(h>>(4*(i%16)))&15])
	}
}

// generator writes requests into buffers it keeps (the C version's stack
// and scratch buffers), so generating a request allocates nothing.
type generator struct {
	o         *options
	body, req []byte
	rec       recgen
}

// request returns request idx of the stream, valid until the next call.
func (g *generator) request(idx uint64) []byte {
	o := g.o
	// The order of the draws is part of the stream's definition.
	s := o.seed ^ (idx * 0xd1342543de82ef95)
	key := next(&s) % o.nkeys
	isPut := next(&s)%100 < uint64(o.publishPct)
	nitems := 1 + int(next(&s)%uint64(2*o.items-1))
	ntags := 1 + int(next(&s)%4)
	nextra := int(next(&s) % 8)
	user := next(&s) % 100000
	limit := 1 + next(&s)%100
	rid := next(&s)
	session := next(&s)
	op, method := "get", "POST"
	if isPut {
		op, method = "put", "PUT"
	}

	b := append(g.body[:0], `{"user":`...)
	b = appendU(b, user)
	b = append(b, `,"op":"`...)
	b = append(b, op...)
	b = append(b, `","key":"k`...)
	b = appendU(b, key)
	b = append(b, `","tags":[`...)
	for i := 0; i < ntags; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendU(append(b, `"t`...), next(&s)%50)
		b = append(b, '"')
	}
	b = append(b, `],"items":[`...)
	for i := 0; i < nitems; i++ {
		id := next(&s) % 1000000
		qty := 1 + next(&s)%10
		price := 1 + next(&s)%10000
		if i > 0 {
			b = append(b, ',')
		}
		b = appendU(append(b, `{"id":`...), id)
		b = appendU(append(b, `,"name":"item-`...), id)
		b = appendU(append(b, `","qty":`...), qty)
		b = appendU(append(b, `,"price":`...), price)
		b = append(b, '}')
	}
	b = appendHex16(append(b, `],"note":"note-`...), next(&s))
	b = append(b, '"')
	if isPut {
		g.rec.gen(key)
		b = append(append(b, `,"record":{"name":"`...), g.rec.name...)
		b = append(append(b, `","email":"`...), g.rec.email...)
		b = append(b, `","tags":[`...)
		for i := 0; i < g.rec.ntags; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(b, '"'), g.rec.tags[i]...), '"')
		}
		b = append(append(b, `],"profile":"`...), g.rec.profile...)
		b = append(b, `"}`...)
	}
	b = append(b, '}')
	g.body = b

	r := append(g.req[:0], method...)
	r = appendU(append(r, " /api/items/k"...), key)
	r = appendU(append(r, "?user="...), user)
	r = appendU(append(r, "&limit="...), limit)
	r = append(r, "&fields=name,tags HTTP/1.1\r\n"+
		"Host: txbench.local\r\nUser-Agent: txbench/1.0\r\nAccept: application/json\r\n"+
		"Content-Type: application/json\r\nX-Request-Id: "...)
	r = appendHex16(r, rid)
	r = appendHex16(append(r, "\r\nCookie: session="...), session)
	r = append(r, "; theme=dark\r\n"...)
	for i := 0; i < nextra; i++ {
		r = strconv.AppendInt(append(r, "X-Extra-"...), int64(i), 10)
		r = strconv.AppendInt(append(r, ": value-"...), int64(i), 10)
		r = appendHex16(append(r, '-'), next(&s))
		r = append(r, "\r\n"...)
	}
	r = appendU(append(r, "Content-Length: "...), uint64(len(b)))
	r = append(append(r, "\r\n\r\n"...), b...)
	if len(b) >= reqMax/2 || len(r) > reqMax {
		fatal(1, "internal error: a generated request is over %d bytes", reqMax)
	}
	g.req = r
	return r
}

// --- the handler's data ---------------------------------------------------------------------------
//
// The structures of txbench_heap.h. A tx_str (a copy of request bytes)
// is a Go string made by copying; "" stands for both NULL and empty where
// the C code treats them alike, and lookups that tell them apart return ok.

type kv struct {
	k, v string
	next *kv
	hash uint64
}

// strMap is a hash map of chained entries, len(b) chains (a power of two).
type strMap struct {
	b []*kv
	n uint64
}

const (
	jvNull = iota
	jvBool
	jvNum
	jvStr
	jvArr
	jvObj
)

// jv is a JSON value.
type jv struct {
	s     string   // jvStr
	items []*jv    // jvArr, jvObj: the values
	keys  []string // jvObj: a key per value
	num   int64    // jvNum, jvBool
	kind  uint32
}

// request is a request and what was parsed from it.
type request struct {
	raw               []byte
	method, path, key string
	query, headers    *strMap
	body              *jv
}

// rec is a store record.
type rec struct {
	key, name, email, profile string
	tags                      []string
	id                        int64
}

// blob is one link of a churn entry (--churn-kb): what a request publishes
// into the churn ring is a chain of them, each with blobData bytes copied
// from the request.
type blob struct {
	next  *blob  // the chain's next link; nil: the last
	data  string // blobData bytes
	check uint64 // blobCheck(data); the first link's is tested when the entry is evicted
}

const (
	blobData  = 247 // a link's bytes (txbench's TXB_BLOB_DATA)
	blobBytes = 280 // what a link counts for --churn-kb (txbench's TXB_BLOB_BYTES)

	// --publish-bytes-pct's estimate of a request's own allocation,
	// bytes: txbench's TXB_PUBSHARE_* (txbench_heap.h says how they were
	// fitted), so that an entry has as many links as in txbench.
	pubshareBase    = 4096
	pubsharePerItem = 736
	pubsharePerPut  = 1400
)

// store is an open-addressing hash map over the records' keys, linear
// probing; len(slots) is a power of two and nil marks an empty slot. ring
// is the churn ring, a bounded cache: each request with --churn-kb
// publishes an entry of churnBlobs links into the slot after the last one
// taken (ringNext), and the entry it replaces, len(ring) requests old,
// becomes garbage.
type store struct {
	slots       []atomic.Pointer[rec]
	nkeys       uint64
	ring        []atomic.Pointer[blob] // nil: --churn-kb=0
	churnBlobs  uint64                 // links per entry (0: sized per request, --publish-bytes-pct)
	pubsharePct uint64                 // --publish-bytes-pct (0: none)
	ringNext    atomic.Uint64          // entries published so far
}

// --- maps ------------------------------------------------------------------------------------------

func newMap(nb int) *strMap {
	return &strMap{b: make([]*kv, nb)}
}

func (m *strMap) put(k, v string) {
	h := fnv(fnvInit, k)
	i := h & uint64(len(m.b)-1)
	m.b[i] = &kv{k: k, v: v, next: m.b[i], hash: h}
	m.n++
}

func (m *strMap) get(k string) (string, bool) {
	h := fnv(fnvInit, k)
	for e := m.b[h&uint64(len(m.b)-1)]; e != nil; e = e.next {
		if e.hash == h && e.k == k {
			return e.v, true
		}
	}
	return "", false
}

// --- the response builder ----------------------------------------------------------------------------

func sbStr(sb []byte, s string) []byte {
	return append(append(append(sb, '"'), s...), '"')
}

func sbInt(sb []byte, v int64) []byte {
	return strconv.AppendInt(sb, v, 10)
}

// atoll is C's atoll: leading spaces, a sign, then digits up to the first
// other byte.
func atoll(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
	}
	if neg {
		return -v
	}
	return v
}

// --- JSON --------------------------------------------------------------------------------------------

// jp parses JSON in b[p:end].
type jp struct {
	b      []byte
	p, end int
	bad    bool
}

func (j *jp) ws() {
	for j.p < j.end {
		switch j.b[j.p] {
		case ' ', '\n', '\r', '\t':
			j.p++
		default:
			return
		}
	}
}

// at tells whether the input continues with s.
func (j *jp) at(s string) bool {
	return j.end-j.p >= len(s) && string(j.b[j.p:j.p+len(s)]) == s
}

// str reads a string literal, escapes kept as they are.
func (j *jp) str() string {
	if j.p >= j.end || j.b[j.p] != '"' {
		j.bad = true
		return ""
	}
	j.p++
	s := j.p
	for j.p < j.end && j.b[j.p] != '"' {
		if j.b[j.p] == '\\' {
			j.p += 2
		} else {
			j.p++
		}
	}
	if j.p >= j.end {
		j.bad = true
		return ""
	}
	r := string(j.b[s:j.p])
	j.p++
	return r
}

// container reads the values (and keys, for an object) of an array or an
// object into slices that grow by doubling.
func (j *jp) container(depth int, obj bool) *jv {
	v := &jv{kind: jvArr}
	closer := byte(']')
	if obj {
		v.kind, closer = jvObj, '}'
	}
	items := make([]*jv, 0, 4)
	var keys []string
	if obj {
		keys = make([]string, 0, 4)
	}
	j.p++
	j.ws()
	if j.p < j.end && j.b[j.p] == closer {
		j.p++
		v.items, v.keys = items, keys
		return v
	}
	for {
		var k string
		if obj {
			j.ws()
			k = j.str()
			j.ws()
			if j.bad || j.p >= j.end || j.b[j.p] != ':' {
				j.bad = true
				return v
			}
			j.p++
		}
		x := j.value(depth + 1)
		if j.bad {
			return v
		}
		items = append(items, x)
		if obj {
			keys = append(keys, k)
		}
		j.ws()
		if j.p < j.end && j.b[j.p] == ',' {
			j.p++
			continue
		}
		if j.p < j.end && j.b[j.p] == closer {
			j.p++
			break
		}
		j.bad = true
		return v
	}
	v.items, v.keys = items, keys
	return v
}

func (j *jp) value(depth int) *jv {
	j.ws()
	if j.p >= j.end || depth > 32 {
		j.bad = true
		return nil
	}
	c := j.b[j.p]
	if c == '{' || c == '[' {
		return j.container(depth, c == '{')
	}
	v := &jv{}
	switch {
	case c == '"':
		v.kind = jvStr
		v.s = j.str()
	case c == '-' || (c >= '0' && c <= '9'):
		v.kind = jvNum
		neg := c == '-'
		if neg {
			j.p++
		}
		var x int64
		for j.p < j.end && j.b[j.p] >= '0' && j.b[j.p] <= '9' {
			x = x*10 + int64(j.b[j.p]-'0')
			j.p++
		}
		if neg {
			x = -x
		}
		v.num = x
	case j.at("true"):
		v.kind, v.num = jvBool, 1
		j.p += 4
	case j.at("false"):
		v.kind = jvBool
		j.p += 5
	case j.at("null"):
		j.p += 4
	default:
		j.bad = true
	}
	return v
}

// jvGet is o's member k, or nil.
func jvGet(o *jv, k string) *jv {
	if o == nil || o.kind != jvObj {
		return nil
	}
	for i, key := range o.keys {
		if key == k {
			return o.items[i]
		}
	}
	return nil
}

func jvNumOf(v *jv) int64 {
	if v != nil && v.kind == jvNum {
		return v.num
	}
	return 0
}

func jvStrOf(v *jv) string {
	if v != nil && v.kind == jvStr {
		return v.s
	}
	return ""
}

// --- the shared store --------------------------------------------------------------------------------

func recMake(g *recgen, key uint64) *rec {
	g.gen(key)
	var kb [24]byte
	r := &rec{
		key:     string(appendU(append(kb[:0], 'k'), key)),
		name:    string(g.name),
		email:   string(g.email),
		profile: string(g.profile),
		tags:    make([]string, g.ntags),
		id:      int64(key),
	}
	for i := range r.tags {
		r.tags[i] = string(g.tags[i])
	}
	return r
}

// buildStore builds the store of o.nkeys records.
func buildStore(o *options) *store {
	ns := uint64(1)
	for ns < o.nkeys*2 {
		ns *= 2
	}
	st := &store{slots: make([]atomic.Pointer[rec], ns), nkeys: o.nkeys}
	var g recgen
	for k := uint64(0); k < o.nkeys; k++ {
		r := recMake(&g, k)
		i := fnv(fnvInit, r.key) & (ns - 1)
		for st.slots[i].Load() != nil {
			i = (i + 1) & (ns - 1)
		}
		st.slots[i].Store(r)
		if (k+1)%1000000 == 0 {
			progressf("store: %d of %d records", k+1, o.nkeys)
		}
	}
	if o.churnKB > 0 || o.pubBytesPct > 0 {
		st.buildRing(o)
	}
	return st
}

// find is the slot holding key's record, or -1.
func (st *store) find(key string) int64 {
	mask := uint64(len(st.slots) - 1)
	i := fnv(fnvInit, key) & mask
	for probes := 0; probes < len(st.slots); probes++ {
		r := st.slots[i].Load()
		if r == nil {
			return -1
		}
		if r.key == key {
			return int64(i)
		}
		i = (i + 1) & mask
	}
	return -1
}

// recFromJSON is a record built from a put's "record" object.
func recFromJSON(j *jv, key string, id int64) *rec {
	r := &rec{
		key:     key,
		name:    jvStrOf(jvGet(j, "name")),
		email:   jvStrOf(jvGet(j, "email")),
		profile: jvStrOf(jvGet(j, "profile")),
		id:      id,
	}
	t := jvGet(j, "tags")
	n := 0
	if t != nil && t.kind == jvArr {
		n = len(t.items)
	}
	r.tags = make([]string, n)
	for i := range r.tags {
		r.tags[i] = jvStrOf(t.items[i])
	}
	return r
}

// --- the churn ring ----------------------------------------------------------------------------------

// pubshareBlobs is the links of the entry a request publishes with
// --publish-bytes-pct=pct: its own allocation estimated from its body's
// items and whether it is a put (x100, putPct the share of puts, for a
// typical request), times pct / (100 - pct), rounded to whole links
// (txbench's pubshare_blobs, in the same integers).
func pubshareBlobs(pct, nitems, putPct uint64) uint64 {
	own := 100*(pubshareBase+pubsharePerItem*nitems) + pubsharePerPut*putPct
	return (own*pct/(100-pct) + 50*blobBytes) / (100 * blobBytes)
}

// buildRing makes the ring hold as many entries as churnMB MiB do, at
// least one: entries of churnKB KiB (links of blobBytes, rounded up), or
// with --publish-bytes-pct the entry of a request with the mean items and
// puts.
func (st *store) buildRing(o *options) {
	var entry uint64
	if o.churnKB > 0 {
		st.churnBlobs = (uint64(o.churnKB)*1024 + blobBytes - 1) / blobBytes
		entry = st.churnBlobs
	} else {
		st.pubsharePct = uint64(o.pubBytesPct)
		entry = pubshareBlobs(st.pubsharePct, uint64(o.items), uint64(o.publishPct))
	}
	if entry == 0 {
		entry = 1
	}
	n := uint64(o.churnMB) * 1048576 / (entry * blobBytes)
	if n == 0 {
		n = 1
	}
	st.ring = make([]atomic.Pointer[blob], n)
}

func blobCheck(d string) uint64 {
	return fnv(fnv(fnvInit, d[:16]), d[len(d)-16:])
}

// churnEntry is a churn entry: nblobs links, link i holding blobData bytes
// of raw from offset 977 i (mod its length), wrapping to its start; sum is
// the sum of the links' checks.
func churnEntry(nblobs uint64, raw []byte) (head *blob, sum uint64) {
	var d [blobData]byte
	for i := uint64(0); i < nblobs; i++ {
		off := int(i * 977 % uint64(len(raw)))
		for n := 0; n < blobData; off = 0 {
			n += copy(d[n:], raw[off:])
		}
		b := &blob{data: string(d[:]), next: head}
		b.check = blobCheck(b.data)
		sum += b.check
		head = b
	}
	return head, sum
}

// churnPublish publishes a churn entry of nblobs links built from raw into
// the ring's next slot and checks the first link of the entry it evicts; it
// returns the sum of the new entry's checks.
func churnPublish(st *store, raw []byte, nblobs uint64) uint64 {
	e, sum := churnEntry(nblobs, raw)
	i := (st.ringNext.Add(1) - 1) % uint64(len(st.ring))
	if old := st.ring[i].Swap(e); old != nil && old.check != blobCheck(old.data) {
		fatal(1, "churn ring: the entry evicted from slot %d changed while it was published", i)
	}
	return sum
}

// --- the handler -------------------------------------------------------------------------------------

// parseQuery parses "a=1&b=2" (b[p:end]) into m.
func parseQuery(m *strMap, b []byte, p, end int) {
	for p < end {
		amp := indexByte(b, p, end, '&')
		if amp < 0 {
			amp = end
		}
		if eq := indexByte(b, p, amp, '='); eq >= 0 {
			m.put(string(b[p:eq]), string(b[eq+1:amp]))
		}
		p = amp + 1
	}
}

// indexByte is the index of the first c in b[p:end], or -1.
func indexByte(b []byte, p, end int, c byte) int {
	for i := p; i < end; i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// indexCRLF is the index of the first "\r\n" in b[p:], or -1.
func indexCRLF(b []byte, p int) int {
	for i := p; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// lowerCopy is a copy of b with ASCII capitals lower-cased (built on the
// stack, one heap copy).
func lowerCopy(b []byte) string {
	var t [64]byte
	l := t[:0]
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		l = append(l, c)
	}
	return string(l)
}

// parseRequest parses the request in q.raw; false if it is malformed.
func parseRequest(q *request) bool {
	const prefix = "/api/items/"
	b := q.raw
	eol := indexCRLF(b, 0)
	if eol < 0 {
		return false
	}
	sp1 := indexByte(b, 0, eol, ' ')
	if sp1 < 0 {
		return false
	}
	sp2 := indexByte(b, sp1+1, eol, ' ')
	if sp2 < 0 {
		return false
	}
	q.method = string(b[:sp1])
	target := sp1 + 1
	qm := indexByte(b, target, sp2, '?')
	pathEnd := sp2
	if qm >= 0 {
		pathEnd = qm
	}
	q.path = string(b[target:pathEnd])
	q.query = newMap(8)
	if qm >= 0 {
		parseQuery(q.query, b, qm+1, sp2)
	}
	if len(q.path) <= len(prefix) || q.path[:len(prefix)] != prefix {
		return false
	}
	q.key = strings.Clone(q.path[len(prefix):])

	q.headers = newMap(16)
	p := eol + 2
	for {
		eol = indexCRLF(b, p)
		if eol < 0 {
			return false
		}
		if eol == p {
			break
		}
		colon := indexByte(b, p, eol, ':')
		if colon < 0 {
			return false
		}
		k := lowerCopy(b[p:colon])
		v := colon + 1
		for v < eol && b[v] == ' ' {
			v++
		}
		q.headers.put(k, string(b[v:eol]))
		p = eol + 2
	}
	p += 2
	var n int64
	if cl, ok := q.headers.get("content-length"); ok {
		n = atoll(cl)
	}
	if n < 0 || n > int64(len(b)-p) {
		return false
	}
	j := jp{b: b, p: p, end: p + int(n)}
	q.body = j.value(0)
	return !j.bad
}

func sbRec(sb []byte, r *rec) []byte {
	sb = sbInt(append(sb, `{"id":`...), r.id)
	sb = sbStr(append(sb, `,"name":`...), r.name)
	sb = sbStr(append(sb, `,"email":`...), r.email)
	sb = append(sb, `,"tags":[`...)
	for i, t := range r.tags {
		if i > 0 {
			sb = append(sb, ',')
		}
		sb = sbStr(sb, t)
	}
	sb = sbInt(append(sb, `],"profile_len":`...), int64(len(r.profile)))
	var sum uint64
	for i := 0; i < len(r.profile); i++ {
		sum += uint64(r.profile[i])
	}
	sb = sbInt(append(sb, `,"profile_sum":`...), int64(sum))
	return append(sb, '}')
}

// respond appends the response body for the parsed request q to sb.
func respond(st *store, q *request, sb []byte) []byte {
	slot := st.find(q.key)
	op := jvStrOf(jvGet(q.body, "op"))
	var r *rec
	if slot >= 0 {
		r = st.slots[slot].Load()
	}
	if r != nil && op == "put" {
		nr := recFromJSON(jvGet(q.body, "record"), q.key, r.id)
		st.slots[slot].Swap(nr)
		r = nr
	}
	if downstreamCall != nil { // --downstream: parked here, the request's objects live
		downstreamCall(q.key)
	}
	status := int64(404)
	if r != nil {
		status = 200
	}
	sb = sbInt(append(sb, `{"status":`...), status)
	sb = sbStr(append(sb, `,"method":`...), q.method)
	sb = sbStr(append(sb, `,"key":`...), q.key)
	sb = sbStr(append(sb, `,"op":`...), op)
	sb = sbInt(append(sb, `,"user":`...), jvNumOf(jvGet(q.body, "user")))
	limit := int64(-1)
	if l, ok := q.query.get("limit"); ok {
		limit = atoll(l)
	}
	sb = sbInt(append(sb, `,"limit":`...), limit)
	sb = sbInt(append(sb, `,"headers":`...), int64(q.headers.n))
	if r != nil {
		sb = sbRec(append(sb, `,"record":`...), r)
	}
	sb = append(sb, `,"items":[`...)
	var total int64
	if items := jvGet(q.body, "items"); items != nil && items.kind == jvArr {
		for i, it := range items.items {
			qty, price := jvNumOf(jvGet(it, "qty")), jvNumOf(jvGet(it, "price"))
			total += qty * price
			var t [160]byte
			line := t[:0]
			if i > 0 {
				line = append(line, ',')
			}
			line = sbInt(append(line, `{"id":`...), jvNumOf(jvGet(it, "id")))
			line = append(append(line, `,"name":"`...), jvStrOf(jvGet(it, "name"))...)
			line = sbInt(append(line, `","total":`...), qty*price)
			line = append(line, '}')
			ls := string(line) // an encoder's intermediate string
			sb = append(sb, ls...)
		}
	}
	sb = sbInt(append(sb, `],"total":`...), total)
	ntags := 0
	if tags := jvGet(q.body, "tags"); tags != nil && tags.kind == jvArr {
		ntags = len(tags.items)
	}
	sb = sbInt(append(sb, `,"tags":`...), int64(ntags))
	if st.ring != nil {
		nblobs := st.churnBlobs
		if nblobs == 0 {
			var nitems, put uint64
			if items := jvGet(q.body, "items"); items != nil && items.kind == jvArr {
				nitems = uint64(len(items.items))
			}
			if r != nil && op == "put" {
				put = 100
			}
			nblobs = pubshareBlobs(st.pubsharePct, nitems, put)
		}
		sb = append(appendHex16(append(sb, `,"churn":"`...), churnPublish(st, q.raw, nblobs)), '"')
	}
	return append(sb, '}')
}

// handle handles one request and returns its response's hash. Go's escape
// analysis keeps q and sb's first 256 bytes on the goroutine's stack; every
// other allocation the C handler makes is a heap allocation here too.
func handle(st *store, text []byte) uint64 {
	q := &request{raw: make([]byte, len(text))}
	copy(q.raw, text)
	return fnv(fnvInit, respondHTTP(st, q, parseRequest(q)))
}

// respondHTTP is the whole HTTP response to q (parsed says whether it could be).
func respondHTTP(st *store, q *request, parsed bool) []byte {
	sb := make([]byte, 0, 256)
	status := 200
	if parsed {
		sb = respond(st, q, sb)
	} else {
		status = 400
		sb = append(sb, `{"status":400}`...)
	}
	rid, ok := "", false
	if q.headers != nil {
		rid, ok = q.headers.get("x-request-id")
	}
	if !ok {
		rid = "-"
	}
	reason := "OK"
	if status != 200 {
		reason = "Bad Request"
	}
	var hb [192]byte
	head := strconv.AppendInt(append(hb[:0], "HTTP/1.1 "...), int64(status), 10)
	head = append(append(append(head, ' '), reason...), "\r\nContent-Type: application/json\r\nContent-Length: "...)
	head = appendU(head, uint64(len(sb)))
	head = append(append(append(head, "\r\nX-Request-Id: "...), rid...), "\r\n\r\n"...)
	out := make([]byte, 0, len(head)+len(sb))
	return append(append(out, head...), sb...)
}

// --- latency histogram (log-linear: 16 buckets per power of two) -------------------------------------

type hist [histBuckets]uint64

func bucket(ns uint64) int {
	if ns < 16 {
		return int(ns)
	}
	e := bits.Len64(ns) - 1
	return (e-3)*16 + int((ns>>(e-4))&15)
}

func bucketMid(b int) float64 {
	if b < 16 {
		return float64(b)
	}
	unit := math.Ldexp(1, b/16+3-4)
	return float64(16+b%16)*unit + unit/2
}

func (h *hist) add(ns uint64) { h[bucket(ns)]++ }

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

// quantileUS is the q-quantile in µs (bucket midpoint); 0 when empty.
func (h *hist) quantileUS(q float64) float64 {
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank, seen := uint64(math.Ceil(q*float64(total))), uint64(0)
	for i, n := range h {
		seen += n
		if seen >= rank && n != 0 {
			return bucketMid(i) / 1e3
		}
	}
	return 0
}

// --- the run -----------------------------------------------------------------------------------------

// run is the request counter and the clock every driver shares: one for
// the timed part, one for the warm-up before it (phases.go).
type run struct {
	next         atomic.Uint64 // takes so far: the next request
	refused      atomic.Uint64 // takes that found the run over
	stop         atomic.Bool   // the run is over
	first        uint64        // the stream index of the run's request 0
	limit        uint64        // requests to run (MaxUint64: until the deadline)
	deadline     time.Duration // since start (MaxInt64: none)
	cycles       func() uint64 // the warm-up's: Go's cycles so far, read with the clock (nil: no such end)
	cyclesUntil  uint64        // stop once cycles() reaches this
	what         string        // the progress line's name for the requests
	start        time.Time
	lastProgress atomic.Int64 // since start, ns
}

// newRun is the timed part's run; the sampler's timed samples start with it.
func newRun(o *options) *run {
	r := &run{limit: math.MaxUint64, deadline: math.MaxInt64, what: "requests", start: time.Now()}
	if o.requests > 0 {
		r.limit = uint64(o.requests)
	} else {
		r.deadline = time.Duration(o.duration * 1e9)
	}
	ph.timed(r)
	return r
}

// take returns the next request's stream index, or false when the run is
// over. It prints a progress line about once a second.
func (r *run) take() (uint64, bool) {
	if r.stop.Load() {
		return 0, false
	}
	i := r.next.Add(1) - 1
	if i >= r.limit {
		r.refused.Add(1)
		return 0, false
	}
	if i&63 == 0 {
		now := time.Since(r.start)
		if now >= r.deadline || (r.cycles != nil && r.cycles() >= r.cyclesUntil) {
			r.stop.Store(true)
			r.refused.Add(1)
			return 0, false
		}
		last := r.lastProgress.Load()
		if int64(now)-last >= 1e9 && r.lastProgress.CompareAndSwap(last, int64(now)) {
			t := now.Seconds()
			progressf("%.1f s: %d %s, %.0f/s", t, i, r.what, float64(i)/t)
		}
	}
	return r.first + i, true
}

// taken is the requests handed out so far, up to the limit.
func (r *run) taken() uint64 {
	refused := r.refused.Load() // first: next is read with the increments of the refusals read
	n := r.next.Load() - refused
	if n > r.limit {
		return r.limit
	}
	return n
}

// worker is one share of the run's figures.
type worker struct {
	transactions uint64
	checksum     uint64 // sum of the responses' FNV-1a hashes
	hist         hist
}

func (w *worker) add(h uint64, d time.Duration) {
	w.checksum += h
	w.transactions++
	w.hist.add(uint64(d))
}

// loop runs o.workers goroutines, each taking request after request.
func loop(o *options, st *store, r *run) []worker {
	ws := make([]worker, o.workers)
	var wg sync.WaitGroup
	wg.Add(len(ws))
	for i := range ws {
		go func(w *worker) {
			defer wg.Done()
			g := &generator{o: o}
			for {
				idx, ok := r.take()
				if !ok {
					return
				}
				text := g.request(idx)
				t0 := time.Now()
				h := handle(st, text)
				w.add(h, time.Since(t0))
			}
		}(&ws[i])
	}
	wg.Wait()
	return ws
}

// spawn starts a goroutine per request, at most o.inflight at once (a
// buffered channel as the semaphore). A request is generated into a
// generator from a pool and handled from there (the handler copies it);
// the figures go to one of a few locked shards.
func spawn(o *options, st *store, r *run) []worker {
	type shard struct {
		mu sync.Mutex
		w  worker
	}
	shards := make([]shard, 4*o.procs)
	pool := sync.Pool{New: func() interface{} { return &generator{o: o} }}
	sem := make(chan struct{}, o.inflight)
	var wg sync.WaitGroup
	for {
		idx, ok := r.take()
		if !ok {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(idx uint64) {
			g := pool.Get().(*generator)
			text := g.request(idx)
			t0 := time.Now()
			h := handle(st, text)
			d := time.Since(t0)
			pool.Put(g)
			sh := &shards[idx%uint64(len(shards))]
			sh.mu.Lock()
			sh.w.add(h, d)
			sh.mu.Unlock()
			<-sem
			wg.Done()
		}(idx)
	}
	wg.Wait()
	ws := make([]worker, len(shards))
	for i := range shards {
		ws[i] = shards[i].w
	}
	return ws
}

// --- figures -----------------------------------------------------------------------------------------

// procsClock is what gcCPUNs needs of GOMAXPROCS's history: the value the
// runtime started with and, from setAt on, the one this program set.
var procsClock struct {
	initial, set int
	setAt        time.Time
}

// gcCPUNs is the runtime's total GC CPU time, ns, up to the end of the last
// completed cycle. Go 1.19 has no metric for it (runtime/metrics' /cpu/
// classes arrived in 1.20); MemStats.GCCPUFraction is that total (the
// runtime's work.totaltime: both stop-the-world phases times GOMAXPROCS,
// plus dedicated, fractional and assist marking; idle-priority marking is
// left out as "free") divided by ∫GOMAXPROCS dt from the runtime's start
// to the end of that cycle (MemStats.LastGC). So the total is the fraction
// times that integral, rebuilt from the GOMAXPROCS history; the runtime's
// start is taken as this program's (processStart), which misplaces it by
// the runtime's initialisation, a fraction of a millisecond, and changes
// the difference of two readings by that times their difference in
// fraction. A cycle still running when the timed part ends is not counted.
func gcCPUNs(ms *runtime.MemStats) float64 {
	if ms.LastGC == 0 {
		return 0
	}
	last := time.Unix(0, int64(ms.LastGC))
	var integral float64
	if last.Before(procsClock.setAt) {
		integral = float64(procsClock.initial) * float64(last.Sub(processStart))
	} else {
		integral = float64(procsClock.initial)*float64(procsClock.setAt.Sub(processStart)) +
			float64(procsClock.set)*float64(last.Sub(procsClock.setAt))
	}
	return ms.GCCPUFraction * integral
}

// procUsage is the process's CPU time (user and system, every thread) and
// its minor faults so far, from getrusage; NaN where it fails.
func procUsage() (cpuSeconds, minorFaults float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN(), math.NaN()
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), float64(ru.Minflt)
}

// result holds txbench's figures.
type result struct {
	procCPUSeconds     float64 // the timed part's process CPU, every thread
	minorFaults        float64 // the timed part's minor faults
	driverNote         string
	seconds            float64
	transactions       uint64
	checksum           uint64
	procs              int
	gcCycles           uint64
	gcCPUSeconds       float64
	gcCPUFraction      float64
	stwMaxUS, stwP99US float64
	peakRSSMB          float64
	allocatedMB        float64
	txnP50US, txnP99US float64
	warmupEnded        string // "off", "cycles", "seconds"
	warmupSeconds      float64
	warmupCycles       uint64 // cycles completed in the warm-up
	warmupTransactions uint64
	series             []sample // --series
}

// pauseFigures is the maximum and the 99th percentile (nearest rank), µs,
// of the stop-the-world pauses of the n cycles before after was read: Go
// keeps one figure per cycle (its two pauses summed) in a ring of the last
// 256, so with more cycles only the last 256 count.
func pauseFigures(after *runtime.MemStats, n uint32) (maxUS, p99US float64) {
	if n > uint32(len(after.PauseNs)) {
		n = uint32(len(after.PauseNs))
	}
	if n == 0 {
		return 0, 0
	}
	ns := make([]uint64, n)
	for j := uint32(0); j < n; j++ {
		ns[j] = after.PauseNs[(after.NumGC-1-j)%uint32(len(after.PauseNs))]
	}
	sort.Slice(ns, func(a, b int) bool { return ns[a] < ns[b] })
	rank := int(math.Ceil(0.99 * float64(n)))
	return float64(ns[n-1]) / 1e3, float64(ns[rank-1]) / 1e3
}

// peakRSSMB is the peak resident set since the process began or since
// resetPeakRSS: VmHWM (getrusage's maximum keeps that of threads that
// exited), getrusage's where /proc is missing.
func peakRSSMB() float64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			var kib uint64
			if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kib); n == 1 {
				return float64(kib) / 1024
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// resetPeakRSS restarts the peak resident set from the current one
// (/proc/self/clear_refs); false where the kernel refuses.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// drive runs the driver o asks for over r.
func drive(o *options, st *store, r *run) []worker {
	if o.driver == "loop" {
		return loop(o, st, r)
	}
	return spawn(o, st, r)
}

// runRequests runs the warm-up o asks for, then times the requests; the
// collector's figures are the differences of MemStats read before and
// after the timed part.
func runRequests(o *options, st *store) *result {
	downstreamStart(o)
	ph.warmup(o, func(r *run) { drive(o, st, r) })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, flt0 := procUsage()
	r := newRun(o)
	t0 := time.Now()
	res := &result{procs: runtime.GOMAXPROCS(0), driverNote: "goroutines, one request after another"}
	if o.driver != "loop" {
		res.driverNote = "a goroutine per request"
	}
	ws := drive(o, st, r)
	res.seconds = time.Since(t0).Seconds()
	cpu1, flt1 := procUsage()
	res.procCPUSeconds, res.minorFaults = cpu1-cpu0, flt1-flt0
	downstreamStop()
	runtime.ReadMemStats(&after)
	ph.end(res)

	res.gcCycles = uint64(after.NumGC - before.NumGC)
	res.gcCPUSeconds = (gcCPUNs(&after) - gcCPUNs(&before)) / 1e9
	res.gcCPUFraction = res.gcCPUSeconds / (res.seconds * float64(res.procs))
	res.stwMaxUS, res.stwP99US = pauseFigures(&after, after.NumGC-before.NumGC)
	res.allocatedMB = float64(after.TotalAlloc-before.TotalAlloc) / 1048576
	res.peakRSSMB = peakRSSMB()
	var all hist
	for i := range ws {
		res.transactions += ws[i].transactions
		res.checksum += ws[i].checksum
		all.merge(&ws[i].hist)
	}
	res.txnP50US = all.quantileUS(0.50)
	res.txnP99US = all.quantileUS(0.99)
	return res
}

// --- output ------------------------------------------------------------------------------------------

// jsonObj writes txbench's JSON: numbers with C's printf formats, null for
// NaN and infinities.
type jsonObj struct {
	b     strings.Builder
	first bool
}

func (j *jsonObj) key(k string) {
	if !j.first {
		j.b.WriteByte(',')
	}
	j.first = false
	fmt.Fprintf(&j.b, "%q:", k)
}

func (j *jsonObj) num(k, format string, v float64) {
	j.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		j.b.WriteString("null")
	} else {
		fmt.Fprintf(&j.b, format, v)
	}
}

func (j *jsonObj) str(k, v string) {
	j.key(k)
	fmt.Fprintf(&j.b, "%q", v)
}

func printResult(o *options, r *result) {
	tps, perTxn := math.NaN(), math.NaN()
	if r.seconds > 0 {
		tps = float64(r.transactions) / r.seconds
	}
	if r.transactions > 0 {
		perTxn = 1 / float64(r.transactions)
	}
	workers, inflight := math.NaN(), math.NaN()
	if o.driver == "loop" {
		workers = float64(o.workers)
	} else {
		inflight = float64(o.inflight)
	}
	j := &jsonObj{first: true}
	j.b.WriteByte('{')
	j.str("mode", "go")
	j.str("driver", o.driver)
	j.str("driver_note", r.driverNote)
	j.num("procs", "%.0f", float64(r.procs))
	j.num("workers", "%.0f", workers)
	j.num("inflight", "%.0f", inflight)
	j.num("live_mb", "%.0f", float64(o.liveMB))
	j.num("items", "%.0f", float64(o.items))
	j.num("publish_pct", "%.0f", float64(o.publishPct))
	churnMB := math.NaN()
	if o.churnKB > 0 || o.pubBytesPct > 0 {
		churnMB = float64(o.churnMB)
	}
	j.num("churn_kb", "%.0f", float64(o.churnKB))
	j.num("churn_mb", "%.0f", churnMB)
	j.num("publish_bytes_pct", "%.0f", float64(o.pubBytesPct))
	j.num("gogc", "%.0f", float64(o.gogc))
	j.num("seed", "%.0f", float64(o.seed))
	j.num("transactions", "%.0f", float64(r.transactions))
	j.num("seconds", "%.4f", r.seconds)
	j.num("txn_per_sec", "%.1f", tps)
	j.num("txn_p50_us", "%.2f", r.txnP50US)
	j.num("txn_p99_us", "%.2f", r.txnP99US)
	j.num("gc_cycles", "%.0f", float64(r.gcCycles))
	j.num("gc_cpu_seconds", "%.4f", r.gcCPUSeconds)
	j.num("gc_cpu_fraction", "%.4f", r.gcCPUFraction)
	j.num("gc_cpu_us_per_txn", "%.3f", r.gcCPUSeconds*1e6*perTxn)
	j.num("proc_cpu_seconds", "%.4f", r.procCPUSeconds)
	j.num("minor_faults", "%.0f", r.minorFaults)
	j.num("stw_max_us", "%.1f", r.stwMaxUS)
	j.num("stw_p99_us", "%.1f", r.stwP99US)
	j.num("peak_rss_mb", "%.1f", r.peakRSSMB)
	j.num("allocated_mb", "%.1f", r.allocatedMB)
	j.num("kb_per_txn", "%.2f", r.allocatedMB*1024*perTxn)
	j.num("toc_reclaimed_fraction", "%.4f", 0)
	j.num("published_fraction", "%.4f", 0)
	j.num("forfeit_fraction", "%.4f", 0)
	j.num("marking_bytes_fraction", "%.4f", math.NaN())
	downstreamUS, parkedMax := math.NaN(), math.NaN()
	if o.downstream != "none" {
		downstreamUS, parkedMax = float64(o.downstreamUS), float64(atomic.LoadInt64(&ds.parkedMax))
	}
	j.str("downstream", o.downstream)
	j.num("downstream_us", "%.0f", downstreamUS)
	j.num("parked_max", "%.0f", parkedMax)
	j.num("rss_per_inflight_kb", "%.2f", r.peakRSSMB*1024/inflight)
	j.num("owned_per_inflight_kb", "%.2f", math.NaN())
	j.str("checksum", fmt.Sprintf("%016x", r.checksum))
	j.str("warmup_ended", r.warmupEnded)
	j.num("warmup_seconds", "%.3f", r.warmupSeconds)
	j.num("warmup_cycles", "%.0f", float64(r.warmupCycles))
	j.num("warmup_transactions", "%.0f", float64(r.warmupTransactions))
	if o.series {
		j.key("series")
		j.b.WriteByte('[')
		for i, x := range r.series {
			if i > 0 {
				j.b.WriteByte(',')
			}
			s := &jsonObj{first: true}
			s.b.WriteByte('{')
			s.num("t", "%.3f", x.t)
			s.num("seconds", "%.4f", x.seconds)
			phase := "warmup"
			if x.timed {
				phase = "timed"
			}
			s.str("phase", phase)
			s.num("txn_per_sec", "%.1f", x.txnPerSec)
			s.num("heap_inuse_mb", "%.1f", x.heapMB)
			s.num("rss_mb", "%.1f", x.rssMB)
			s.num("marking_fraction", "%.4f", math.NaN())
			s.num("gc_cycles", "%.0f", float64(x.cycles))
			s.num("toc_windows", "%.0f", math.NaN())
			s.num("toc_reclaimed_mb", "%.2f", math.NaN())
			s.b.WriteByte('}')
			j.b.WriteString(s.b.String())
		}
		j.b.WriteByte(']')
	}
	j.b.WriteString("}\n")
	os.Stdout.WriteString(j.b.String())
}

func printTable(o *options, r *result) {
	fmt.Printf("mode go, driver %s (%s), %d procs\n", o.driver, r.driverNote, r.procs)
	fmt.Printf("%d transactions in %.2f s: %.0f/s, p50 %.1f us, p99 %.1f us\n",
		r.transactions, r.seconds, float64(r.transactions)/r.seconds, r.txnP50US, r.txnP99US)
	fmt.Printf("gc: %d cycles, %.3f s CPU (%.1f%%), pauses max %.1f us p99 %.1f us\n",
		r.gcCycles, r.gcCPUSeconds, 100*r.gcCPUFraction, r.stwMaxUS, r.stwP99US)
	fmt.Printf("peak RSS %.1f MiB, allocated %.1f MiB\n", r.peakRSSMB, r.allocatedMB)
	if r.warmupEnded != "off" {
		fmt.Printf("warm-up: %d transactions, %d cycles in %.2f s (ended by %s)\n",
			r.warmupTransactions, r.warmupCycles, r.warmupSeconds, r.warmupEnded)
	}
	for _, x := range r.series {
		phase := "warmup"
		if x.timed {
			phase = "timed"
		}
		fmt.Printf("%8.2f s %-6s %9.0f txn/s, heap %7.1f MiB, RSS %7.1f MiB, %d cycles\n",
			x.t, phase, x.txnPerSec, x.heapMB, x.rssMB, x.cycles)
	}
	fmt.Printf("checksum %016x\n", r.checksum)
}
