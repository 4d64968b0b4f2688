// Command ferry is a replicated Redis-compatible store. Subcommands:
//
//	ferry dev      embedded NATS, a master and a replica in one process
//	ferry master   run a master
//	ferry replica  run a replica
//	ferry snapshot list, inspect, export or import snapshots
//	ferry restore  write a dataset as it was at one offset as a dump.rdb
//	ferry log      show the replication log: its range and limits, or entries
//	ferry version  print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "master":
		err = runMaster(os.Args[2:])
	case "replica":
		err = runReplica(os.Args[2:])
	case "dev":
		err = runDev(os.Args[2:])
	case "snapshot":
		err = runSnapshot(os.Args[2:])
	case "restore":
		err = runRestore(os.Args[2:])
	case "log":
		err = runLog(os.Args[2:])
	case "version", "--version", "-v":
		fmt.Println("ferry", version)
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "ferry: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the flag set printed its usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: ferry <command> [flags]

commands:
  dev       run everything in one process: embedded NATS, a master on :6379, a replica on :6380
  master    run a master (RESP server taking reads and writes, publishing to the log)
  replica   run a replica (read-only RESP server following the log)
  snapshot  list, inspect, export (to a dump.rdb) or import (from a dump.rdb) snapshots
  restore   write the dataset as it was at one log offset (--offset N) as a dump.rdb
  log       show the replication log: info (range, size, limits) or show (entries' commands)
  version   print the version

Every flag can also be set with an environment variable: --requirepass is
FERRY_REQUIREPASS, --addr is FERRY_ADDR, and so on. Run "ferry <command> -h"
for its flags.
`)
}
