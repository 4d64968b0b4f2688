// Package compat holds ferry's differential tests: command scripts in
// testdata/*.txt run against ferry and a real redis-server 7.0, in RESP2
// and in RESP3, and every reply must match byte for byte.
//
// Script lines are inline commands (quotes and \x escapes as redis-cli
// takes them). A prefix changes how a reply is compared:
//
//	sort: CMD ...       sort the elements of an aggregate reply first
//	sortpairs: CMD ...  sort pairs of elements (HGETALL, maps)
//	type: CMD ...       compare only the reply's type byte (random replies)
//	resp2: CMD ...      run only in the RESP2 pass
//	resp3: CMD ...      run only in the RESP3 pass
//	both: CMD ...       run, and compare, without the pass prefix (default)
//
// Lines starting with '#' and blank lines are ignored.
package compat
