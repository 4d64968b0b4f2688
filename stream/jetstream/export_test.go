package jetstream

// DirectEntries returns how many entries l's catch-up reads handed over.
func DirectEntries(l *Log) int64 { return l.directEntries.Load() }
