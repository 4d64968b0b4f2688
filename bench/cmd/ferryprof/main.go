// Command ferryprof runs the same master as "ferry master", in process, with
// Go profiling switched on, for bench/profile.sh. It serves until SIGINT or
// SIGTERM, then writes the profiles asked for.
//
//	ferryprof -addr 127.0.0.1:7000 -cpuprofile cpu.out -memprofile heap.out
//
// With -pprof it also serves net/http/pprof (go tool pprof
// http://ADDR/debug/pprof/profile?seconds=10).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/ferrydb/ferry/master"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferryprof:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "RESP listen address")
	cpu := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	mem := flag.String("memprofile", "", "write a heap profile at exit to this file")
	httpAddr := flag.String("pprof", "", "serve net/http/pprof on this address (empty: off)")
	mutexFrac := flag.Int("mutexprofile-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	blockRate := flag.Int("blockprofile-rate", 0, "runtime.SetBlockProfileRate in ns (0: off)")
	flag.Parse()

	runtime.SetMutexProfileFraction(*mutexFrac)
	runtime.SetBlockProfileRate(*blockRate)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// A standalone master, as `ferry master` without --nats.
	m, err := master.New(ctx, master.Config{Addr: *addr, Version: "ferryprof"})
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		go func() {
			if err := http.ListenAndServe(*httpAddr, nil); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(os.Stderr, "ferryprof: pprof:", err)
			}
		}()
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println("listening", m.Addr().String())
	if err := m.Serve(ctx); err != nil {
		return err
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	// The keyspace must still be live when the heap profile is taken.
	runtime.KeepAlive(m)
	return nil
}
