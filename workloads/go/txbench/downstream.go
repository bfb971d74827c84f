// --downstream: a request that waits on a backend mid-way, as txbench's
// (workloads/txbench/txbench_downstream.c) does: once the handler has
// parsed its request and found (or replaced) its record, before it builds
// the response, it sends a hash of the key to a backend and parks until
// the echo comes back, --downstream-us after the query arrived. The
// responses, and so the checksum, are those of --downstream=none.
//
//	chan    one backend goroutine takes each query on a buffered channel;
//	        the delay being the same for all, pending queries wait in
//	        arrival order and one timer is armed for the oldest, so a
//	        million queries never queue behind one sleep; the answer is
//	        written into the query and its done channel closed.
//	socket  a pool of at most dsConns socketpair connections (net.FileConn,
//	        on Go's netpoller): a request takes one, writes its 8-byte query
//	        and parks in a read until the other end's goroutine, after a
//	        sleep of the delay, echoes it; past dsConns requests in flight the
//	        rest park on the pool.

package main

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	dsConns = 4096 // --downstream=socket: most connections in the pool
	dsQueue = 4096 // --downstream=chan: the query channel's buffer
)

// downstreamCall is the handler's wait (nil: --downstream=none).
var downstreamCall func(key string)

type dsQuery struct {
	query, answer uint64
	due           time.Time     // the backend's: when to answer
	done          chan struct{} // closed by the backend to answer
}

var ds struct {
	delay   time.Duration
	queries chan *dsQuery
	pool    chan net.Conn
	conns   []net.Conn // the requests' ends
	exited  sync.WaitGroup
	ask     func(key string) // chanAsk or socketAsk
	parked  int64            // requests in ask now (atomic)
	// parkedMax is the most at once (atomic). About txn_per_sec x the
	// delay requests wait at once, however large --inflight is.
	parkedMax int64
}

// countedAsk is downstreamCall: ask, counting the requests inside it.
func countedAsk(key string) {
	now := atomic.AddInt64(&ds.parked, 1)
	for max := atomic.LoadInt64(&ds.parkedMax); now > max; max = atomic.LoadInt64(&ds.parkedMax) {
		if atomic.CompareAndSwapInt64(&ds.parkedMax, max, now) {
			break
		}
	}
	ds.ask(key)
	atomic.AddInt64(&ds.parked, -1)
}

func answerCheck(query, answer uint64) {
	if answer != query {
		fatal(1, "--downstream: the backend answered %016x to the query %016x", answer, query)
	}
}

func chanAsk(key string) {
	q := &dsQuery{query: fnv(fnvInit, key), done: make(chan struct{})}
	ds.queries <- q
	<-q.done
	answerCheck(q.query, q.answer)
}

// chanBackend answers each query once it is due; returns when the query
// channel is closed and every query answered.
func chanBackend() {
	defer ds.exited.Done()
	var fifo []*dsQuery // pending, oldest first, from head on
	head := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	queries := ds.queries
	for queries != nil || head < len(fifo) {
		var due <-chan time.Time
		if head < len(fifo) {
			timer.Reset(time.Until(fifo[head].due))
			due = timer.C
		}
		select {
		case q, ok := <-queries:
			if !ok {
				queries = nil
				break
			}
			q.due = time.Now().Add(ds.delay)
			fifo = append(fifo, q)
		case <-due:
			due = nil
		}
		if due != nil && !timer.Stop() {
			select { // a stale expiry (before Go 1.23's unbuffered timer channels)
			case <-timer.C:
			default:
			}
		}
		for now := time.Now(); head < len(fifo) && !fifo[head].due.After(now); head++ {
			q := fifo[head]
			fifo[head] = nil
			q.answer = q.query
			close(q.done)
		}
		if head > 4096 && head*2 > len(fifo) {
			fifo = append(fifo[:0], fifo[head:]...)
			head = 0
		}
	}
}

func socketAsk(key string) {
	var b [8]byte
	query := fnv(fnvInit, key)
	binary.LittleEndian.PutUint64(b[:], query)
	c := <-ds.pool
	if _, err := c.Write(b[:]); err != nil {
		fatal(1, "--downstream=socket: write: %v", err)
	}
	if _, err := io.ReadFull(c, b[:]); err != nil {
		fatal(1, "--downstream=socket: read: %v", err)
	}
	ds.pool <- c
	answerCheck(query, binary.LittleEndian.Uint64(b[:]))
}

// socketEcho is the backend's end of one connection.
func socketEcho(c net.Conn) {
	defer ds.exited.Done()
	var b [8]byte
	for {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			break
		}
		time.Sleep(ds.delay)
		if _, err := c.Write(b[:]); err != nil {
			break
		}
	}
	c.Close()
}

// fileConn is one end of a socketpair as a net.Conn on the netpoller.
func fileConn(fd int) net.Conn {
	f := os.NewFile(uintptr(fd), "socketpair")
	c, err := net.FileConn(f) // a dup of fd
	f.Close()
	if err != nil {
		fatal(1, "--downstream=socket: %v", err)
	}
	return c
}

func downstreamStart(o *options) {
	ds.delay = time.Duration(o.downstreamUS) * time.Microsecond
	switch o.downstream {
	case "chan":
		ds.queries = make(chan *dsQuery, dsQueue)
		ds.exited.Add(1)
		go chanBackend()
		ds.ask = chanAsk
	case "socket":
		n := o.workers
		if o.driver == "spawn" {
			n = o.inflight
		}
		if n > dsConns {
			n = dsConns
		}
		ds.pool = make(chan net.Conn, n)
		for i := 0; i < n; i++ {
			sv, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				fatal(1, "--downstream=socket: socketpair for connection %d of %d: %v (ulimit -n?)", i, n, err)
			}
			c := fileConn(sv[0])
			ds.conns = append(ds.conns, c)
			ds.pool <- c
			ds.exited.Add(1)
			go socketEcho(fileConn(sv[1]))
		}
		ds.ask = socketAsk
	}
	if ds.ask != nil {
		downstreamCall = countedAsk
	}
}

// downstreamStop stops the backend once no request waits on it.
func downstreamStop() {
	if downstreamCall == nil {
		return
	}
	downstreamCall = nil
	if ds.queries != nil {
		close(ds.queries)
	}
	for _, c := range ds.conns {
		c.Close()
	}
	ds.exited.Wait()
}
