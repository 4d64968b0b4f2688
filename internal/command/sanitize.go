package command

import (
	"strings"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// sanitize-dump-payload and INFO stats dump_payload_sanitizations.
//
// Redis 7.0 checks a RESTORE payload's compact encodings deeply (every
// entry, duplicates) only when sanitize-dump-payload says so: yes, or
// clients for RESTOREs from clients (not from its master or a user with
// skip-sanitize-payload); by default (no) it does not. ferry always does:
// it never holds a value it did not check. The setting is taken and read
// back as Redis takes it, and changes nothing; the counter counts the
// checks ferry does run, in Redis's units, whatever the setting says.

// SanitizingCodec is a ValueCodec whose RestoreCounted is Restore also
// returning how many deep integrity checks of compact encodings (list
// listpack nodes, intsets, sorted set and hash listpacks, stream nodes)
// it ran, as Redis counts them in dump_payload_sanitizations.
type SanitizingCodec interface {
	ValueCodec
	RestoreCounted(payload []byte, lim keyspace.Limits) (str []byte, coll keyspace.Collection, sanitized int, err error)
}

// restorePayload decodes a RESTORE payload with codec, adding the checks
// it ran to INFO's dump_payload_sanitizations.
func (e *Engine) restorePayload(codec ValueCodec, payload []byte, lim keyspace.Limits) ([]byte, keyspace.Collection, error) {
	sc, ok := codec.(SanitizingCodec)
	if !ok {
		return codec.Restore(payload, lim)
	}
	str, coll, n, err := sc.RestoreCounted(payload, lim)
	e.srv().sanitizations += int64(n)
	return str, coll, err
}

// sanitizeDumpValues are sanitize-dump-payload's values, in Redis's order.
var sanitizeDumpValues = []string{"no", "yes", "clients"}

// parseSanitizeDump parses a sanitize-dump-payload value as Redis's enum
// configs do (strcasecmp): one of the names, in any case, up to a NUL.
func parseSanitizeDump(v string) (any, string) {
	for _, name := range sanitizeDumpValues {
		if eqFold(v, name) {
			return name, ""
		}
	}
	return nil, "argument(s) must be one of the following: " + strings.Join(sanitizeDumpValues, ", ")
}

// sanitizeDumpSetting returns sanitize-dump-payload's value.
func (e *Engine) sanitizeDumpSetting() string {
	if v := e.srv().settings.sanitizeDumpPayload; v != "" {
		return v
	}
	return "no"
}
