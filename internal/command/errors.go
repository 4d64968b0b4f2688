package command

// Error replies whose text is exactly Redis 7.0's wire reply (without the
// leading '-').
const (
	ErrSyntax          = "ERR syntax error"
	ErrNotInt          = "ERR value is not an integer or out of range"
	ErrNotFloat        = "ERR value is not a valid float"
	ErrWrongType       = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrOverflow        = "ERR increment or decrement would overflow"
	ErrNoSuchKey       = "ERR no such key"
	ErrIndexRange      = "ERR index out of range"
	ErrDBRange         = "ERR DB index is out of range"
	ErrNoAuth          = "NOAUTH Authentication required."
	ErrWrongPass       = "WRONGPASS invalid username-password pair or user is disabled."
	ErrNoPassword      = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	ErrNestedMulti     = "ERR MULTI calls can not be nested"
	ErrExecNoMulti     = "ERR EXEC without MULTI"
	ErrDiscardNoMulti  = "ERR DISCARD without MULTI"
	ErrExecAbort       = "EXECABORT Transaction discarded because of previous errors."
	ErrWatchInMulti    = "ERR WATCH inside MULTI is not allowed"
	ErrStringTooLong   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrOffsetRange     = "ERR offset is out of range"
	ErrTimeoutNotFloat = "ERR timeout is not a float or out of range"
	ErrTimeoutNegative = "ERR timeout is negative"
	ErrTimeoutNotInt   = "ERR timeout is not an integer or out of range"
	ErrMinMaxNotFloat  = "ERR min or max is not a float"
	ErrMinMaxNotString = "ERR min or max not valid string range item"
	ErrReadOnly        = "READONLY You can't write against a read only replica."
	ErrMasterDown      = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
	ErrLoading         = "LOADING Redis is loading the dataset in memory"
	ErrNotAllowedMulti = "ERR Command not allowed inside a transaction"
)
