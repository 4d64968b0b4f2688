package jetstream

// DirectEntries returns how many entries l's catch-up reads delivered.
func DirectEntries(l *Log) int64 { return l.directEntries.Load() }
