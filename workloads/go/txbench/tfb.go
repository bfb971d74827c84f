//go:build httpd

// tfb.go: go-httpd --suite=tfb, the TechEmpower Framework Benchmarks' test
// types over an in-memory database, the Go twin of toc's httpd --suite=tfb
// (workloads/httpd/tfb.c): the same routes, the same data (the World
// table's numbers from the same generator and seed, the 12 fortunes) and
// the same bodies.
//
//	/json                 {"message":"Hello, World!"}, a message made per request
//	/db                   one random row, {"id":N,"randomNumber":M}
//	/queries?queries=N    N rows read one by one, a JSON array (N clamped to
//	                      1..500; 1 when missing or not an integer)
//	/fortunes             the 12 rows and one added at request time, sorted by
//	                      message, an HTML table, text/html; charset=utf-8
//	/updates?queries=N    N random rows, each given a new random number (never
//	                      its old one) and written back; the new rows
//
// A World row is an immutable object behind an atomic pointer: reads load
// it without a lock, an update takes the row's sync.Mutex around reading the
// current number and storing a new row object. net/http adds the Date
// header; the handler sets Server, Content-Type and Content-Length.

package main

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	tfbWorldRows  = 10000 // ids 1 .. 10000
	tfbRandomMax  = 10000 // randomNumber 1 .. 10000
	tfbMaxQueries = 500
	tfbServer     = "go-httpd"
)

// The Fortune table, row id i+1 at index i (TFB's standard data).
var fortuneMessages = [...]string{
	"fortune: No such file or directory",
	"A computer scientist is someone who fixes things that aren't broken.",
	"After enough decimal places, nobody gives a damn.",
	"A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
	"A computer program does what you tell it to do, not what you want it to do.",
	"Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
	"Any program that runs right is obsolete.",
	"A list is only as strong as its weakest link. \u2014 Donald Knuth",
	"Feature: A bug with seniority.",
	"Computers make very fast, very accurate mistakes.",
	"<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
	"フレームワークのベンチマーク",
}

const addedFortune = "Additional fortune added at request time."

type world struct {
	id, randomNumber int64
}

type fortune struct {
	message string
	id      int64
}

type tfbDB struct {
	world    []atomic.Pointer[world] // world[id], world[0] unused
	locks    []sync.Mutex            // locks[id]: held by an update of row id
	fortunes []*fortune
}

// rngNext is splitmix64, as tfb.c's rng_next.
func rngNext(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// tfbSeed is a random state from a seed (nearby seeds differ), as tfb_rng_seed.
func tfbSeed(seed uint64) uint64 { return rngNext(&seed) }

// rngIn is uniform in 1 .. n.
func rngIn(s *uint64, n int64) int64 {
	return int64(((rngNext(s)>>32)*uint64(n))>>32) + 1
}

func buildTFB(seed uint64) *tfbDB {
	db := &tfbDB{world: make([]atomic.Pointer[world], tfbWorldRows+1), locks: make([]sync.Mutex, tfbWorldRows+1)}
	rng := seed
	for id := int64(1); id <= tfbWorldRows; id++ {
		db.world[id].Store(&world{id: id, randomNumber: rngIn(&rng, tfbRandomMax)})
	}
	for i, m := range fortuneMessages {
		db.fortunes = append(db.fortunes, &fortune{message: m, id: int64(i + 1)})
	}
	return db
}

// read copies row id into a row object of the request.
func (db *tfbDB) read(id int64) *world {
	w := *db.world[id].Load()
	return &w
}

// update replaces row id with a row of a new random number and returns it.
func (db *tfbDB) update(id int64, rng *uint64) *world {
	step := rngIn(rng, tfbRandomMax-1) // 1 .. 9999: never the old number
	db.locks[id].Lock()
	old := db.world[id].Load()
	w := &world{id: id, randomNumber: (old.randomNumber-1+step)%tfbRandomMax + 1}
	db.world[id].Store(w)
	db.locks[id].Unlock()
	return w
}

// queriesParam is the queries parameter of a raw query string: 1 .. 500;
// 1 when missing, empty, not an integer or below 1 (tfb.c's queries_param).
func queriesParam(q string) int {
	for len(q) > 0 {
		pair := q
		if i := indexOf(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		if len(pair) < 8 || pair[:8] != "queries=" {
			continue
		}
		d, neg := pair[8:], false
		if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
			neg, d = d[0] == '-', d[1:]
		}
		if d == "" {
			return 1
		}
		v := 0
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				return 1
			}
			if v <= tfbMaxQueries { // saturates: any longer number is too large
				v = v*10 + int(d[i]-'0')
			}
		}
		switch {
		case neg || v < 1:
			return 1
		case v > tfbMaxQueries:
			return tfbMaxQueries
		}
		return v
	}
	return 1
}

func indexOf(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func appendWorld(b []byte, w *world) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, w.id, 10)
	b = append(b, `,"randomNumber":`...)
	b = strconv.AppendInt(b, w.randomNumber, 10)
	return append(b, '}')
}

func appendWorlds(b []byte, list []*world) []byte {
	b = append(b, '[')
	for i, w := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendWorld(b, w)
	}
	return append(b, ']')
}

// appendJSONString escapes quotes, backslashes and control bytes.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	from := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[from:i]...)
		if c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		} else {
			b = append(b, '\\', c)
		}
		from = i + 1
	}
	return append(append(b, s[from:]...), '"')
}

// appendHTML escapes & < > " ' as html.EscapeString does.
func appendHTML(b []byte, s string) []byte {
	from := 0
	for i := 0; i < len(s); i++ {
		var e string
		switch s[i] {
		case '&':
			e = "&amp;"
		case '<':
			e = "&lt;"
		case '>':
			e = "&gt;"
		case '"':
			e = "&#34;"
		case '\'':
			e = "&#39;"
		default:
			continue
		}
		b = append(append(b, s[from:i]...), e...)
		from = i + 1
	}
	return append(b, s[from:]...)
}

// message is /json's object.
type message struct {
	text string
}

func (db *tfbDB) fortunesPage(b []byte) []byte {
	list := make([]*fortune, 0, len(db.fortunes)+1)
	for _, row := range db.fortunes {
		list = append(list, &fortune{message: row.message, id: row.id})
	}
	list = append(list, &fortune{message: addedFortune, id: 0})
	sort.Slice(list, func(i, j int) bool { return list[i].message < list[j].message })
	b = append(b, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"+
		"<tr><th>id</th><th>message</th></tr>"...)
	for _, f := range list {
		b = append(b, "<tr><td>"...)
		b = strconv.AppendInt(b, f.id, 10)
		b = append(b, "</td><td>"...)
		b = appendHTML(b, f.message)
		b = append(b, "</td></tr>"...)
	}
	return append(b, "</table></body></html>"...)
}

type tfbHandler struct {
	db  *tfbDB
	seq atomic.Uint64 // requests started: seeds each one's random state
	served
}

func (s *tfbHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	rng := tfbSeed(uint64(t0.UnixNano()) ^ s.seq.Add(1)<<40)
	body := make([]byte, 0, 256)
	status, ctype := http.StatusOK, "application/json"
	switch r.URL.Path {
	case "/json", "/db", "/queries", "/fortunes", "/updates":
		if r.Method != http.MethodGet {
			status = http.StatusMethodNotAllowed
			w.Header()["Allow"] = []string{"GET"}
		}
	default:
		status = http.StatusNotFound
	}
	if status == http.StatusOK {
		switch r.URL.Path {
		case "/json":
			m := message{text: "Hello, World!"}
			body = append(appendJSONString(append(body, `{"message":`...), m.text), '}')
		case "/db":
			body = appendWorld(body, s.db.read(rngIn(&rng, tfbWorldRows)))
		case "/queries":
			list := make([]*world, queriesParam(r.URL.RawQuery))
			for i := range list {
				list[i] = s.db.read(rngIn(&rng, tfbWorldRows))
			}
			body = appendWorlds(body, list)
		case "/updates":
			list := make([]*world, queriesParam(r.URL.RawQuery))
			for i := range list {
				list[i] = s.db.update(rngIn(&rng, tfbWorldRows), &rng)
			}
			body = appendWorlds(body, list)
		case "/fortunes":
			ctype = "text/html; charset=utf-8"
			body = s.db.fortunesPage(body)
		}
	} else {
		ctype = "text/plain; charset=utf-8"
		body = append(append(body, http.StatusText(status)...), '\n')
	}
	hd := w.Header()
	hd["Server"] = []string{tfbServer}
	hd["Content-Type"] = []string{ctype}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
	s.done(t0)
}
