package compat

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestPipelineOverManyKeys sends the same deep pipelines of mixed commands
// to both servers over a database large enough (20,000 keys) that ferry
// reads the pipelined requests' keys ahead (Engine.Prefetch): every reply
// must match, including requests whose second argument is not a key, and
// a SELECT in the middle.
func TestPipelineOverManyKeys(t *testing.T) {
	p := newWirePair(t, command.Config{})
	rng := rand.New(rand.NewPCG(3, 5))
	key := func() string { return "key:" + strconv.Itoa(rng.IntN(25000)) }
	var cmds []byte
	for range 3000 {
		switch rng.IntN(9) {
		case 0, 1:
			cmds = append(cmds, cmd("SET", key(), strconv.Itoa(rng.IntN(100)))...)
		case 2, 3:
			cmds = append(cmds, cmd("GET", key())...)
		case 4:
			cmds = append(cmds, cmd("INCR", key())...)
		case 5:
			cmds = append(cmds, cmd("DEL", key(), key())...)
		case 6:
			cmds = append(cmds, cmd("ECHO", key())...)
		case 7:
			cmds = append(cmds, cmd("PING")...)
		case 8:
			cmds = append(cmds, cmd("SELECT", strconv.Itoa(rng.IntN(2)))...)
		}
	}
	for _, addr := range []string{p.redis, p.ferry} {
		c := redistest.Dial(t, addr)
		if got := c.Do("DEBUG", "POPULATE", "20000", "key"); got != "+OK\r\n" {
			t.Fatalf("DEBUG POPULATE: %q", got)
		}
		c.Do("SELECT", "1")
		c.Do("DEBUG", "POPULATE", "20000", "key")
		c.Close()
	}
	want := exchange(t, p.redis, [][]byte{cmds}, idle, 0)
	got := exchange(t, p.ferry, [][]byte{cmds}, idle, len(want.data))
	if !bytes.Equal(got.data, want.data) {
		t.Fatalf("replies differ (%d bytes from ferry, %d from redis)", len(got.data), len(want.data))
	}
	for _, db := range []string{"0", "1"} {
		var digests []string
		for _, addr := range []string{p.redis, p.ferry} {
			c := redistest.Dial(t, addr)
			c.Do("SELECT", db)
			digests = append(digests, c.Do("DEBUG", "DIGEST"))
			c.Close()
		}
		if digests[0] != digests[1] {
			t.Errorf("db %s: DEBUG DIGEST redis %q, ferry %q", db, digests[0], digests[1])
		}
	}
}
