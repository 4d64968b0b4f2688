package command

// rdtsc reads the processor's time-stamp counter.
func rdtsc() int64

const haveTSC = true
