package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/command"
)

// newFlagSet returns a flag set whose flags default to FERRY_<NAME>
// environment variables; call envDefaults after defining the flags.
func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("ferry "+name, flag.ContinueOnError)
}

// parseServerFlags parses a server's command line, which takes flags only,
// then fills in the flags not given from the environment.
func parseServerFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (it takes flags only)", fs.Name(), fs.Arg(0))
	}
	return envDefaults(fs)
}

// envDefaults sets every flag not given on the command line from its
// environment variable (FERRY_ plus the flag name, upper case, '-' as '_').
func envDefaults(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}

// yesNo parses a Redis-style yes/no setting.
func yesNo(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("--%s: want yes or no, got %q", name, v)
}

func envName(flagName string) string {
	return "FERRY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// addAnnounceFlag defines --announce-addr, the address a node gives
// others (like Redis's replica-announce-ip and -port).
func addAnnounceFlag(fs *flag.FlagSet, to string) *string {
	return fs.String("announce-addr", "", "HOST:PORT "+to+" are told this node serves on (INFO replication, ROLE); "+
		"empty: the listen address, or this machine's first network address for a wildcard one")
}

// checkAnnounce checks an --announce-addr value: empty, or HOST:PORT.
func checkAnnounce(v string) error {
	if v == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err == nil && host == "" {
		err = errors.New("no host")
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = errors.New("port must be 1 to 65535")
		}
	}
	if err != nil {
		return fmt.Errorf("--announce-addr %q: want HOST:PORT: %v", v, err)
	}
	return nil
}

// addACLFileFlag adds --aclfile: the node's users, in Redis's ACL file
// format. Users are per node, as a Redis server's are (ACL SETUSER and
// LOAD are not replicated): a fleet ships one ACL file to every node.
func addACLFileFlag(fs *flag.FlagSet) *string {
	return fs.String("aclfile", "", "ACL file with the node's users (Redis's format; ACL LOAD and ACL SAVE use it; empty: none)")
}

// loadACLFile loads the ACL file, if any, into a node's engine before it
// serves.
func loadACLFile(e *command.Engine, path string) error {
	if path == "" {
		return nil
	}
	if err := e.LoadACLFile(path); err != nil {
		return fmt.Errorf("--aclfile: %w", err)
	}
	return nil
}

// addEventLoopFlag defines --event-loop.
func addEventLoopFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("event-loop", true, "serve plain request-reply clients on one epoll event loop, as redis-server does (Linux); "+
		"false: a goroutine per connection, as Go's net package does")
}

// addProcsFlag defines --procs, the number of Go processors.
func addProcsFlag(fs *flag.FlagSet, def int) *int {
	return fs.Int("procs", def, "Go processors (GOMAXPROCS); 0 keeps the Go default (all cores). The engine runs one "+
		"command at a time, as redis-server does, so more processors mostly add lock hand-offs: measured slower on 2 cores")
}

// setProcs applies --procs, unless GOMAXPROCS is set in the environment
// and --procs was not given.
func setProcs(fs *flag.FlagSet, procs int) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "procs" })
	if _, env := os.LookupEnv("FERRY_PROCS"); env {
		given = true
	}
	if _, env := os.LookupEnv("GOMAXPROCS"); env && !given {
		return
	}
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
}

// newLogger returns a structured logger writing to stderr at level.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}
