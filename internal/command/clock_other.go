//go:build !amd64

package command

func rdtsc() int64 { return nanotime() }

const haveTSC = false
