//go:build unix

package server

import "syscall"

// fdLimit returns the process's limit on open files, 0 if unknown.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
