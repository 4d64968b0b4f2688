//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package fs

// flock is a no-op where there is no flock(2): only the goroutines of one
// process are serialized.
func flock(string) (release func(), err error) { return func() {}, nil }
