//go:build !httpd

// go-txbench's main; go-httpd (httpd.go, built with -tags httpd) has its own.

package main

import (
	"runtime"
	"time"
)

func main() {
	procsClock.initial = runtime.GOMAXPROCS(0)
	o := parseFlags()
	runtime.GOMAXPROCS(o.procs)
	procsClock.set, procsClock.setAt = o.procs, time.Now()

	progressf("mode go, driver %s, %d procs, store %d MiB (%d records), %d items, %d%% put, starting",
		o.driver, o.procs, o.liveMB, o.nkeys, o.items, o.publishPct)
	progressf("building the store: %d records", o.nkeys)
	st := buildStore(o)
	runtime.GC()
	progressf("store built; running requests")
	r := runRequests(o, st)
	runtime.KeepAlive(st)
	if o.requests > 0 && r.transactions != uint64(o.requests) {
		fatal(1, "ran %d requests, expected %d", r.transactions, o.requests)
	}
	if o.json {
		printResult(o, r)
	} else {
		printTable(o, r)
	}
}
