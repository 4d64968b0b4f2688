package command_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// bitmapCommand returns a random command over a few keys: mostly bitmap
// commands, with some that change strings, replace types, expire and delete.
func bitmapCommand(r *rand.Rand) []string {
	key := func() string { return "b" + strconv.Itoa(r.IntN(5)) }
	off := func() string { return strconv.Itoa(r.IntN(300)) }
	typ := func() string {
		if r.IntN(2) == 0 {
			return "i" + strconv.Itoa(1+r.IntN(64))
		}
		return "u" + strconv.Itoa(1+r.IntN(63))
	}
	val := func() string {
		switch r.IntN(4) {
		case 0:
			return strconv.FormatInt(int64(r.Uint64()), 10)
		case 1:
			return []string{"9223372036854775807", "-9223372036854775808", "-1", "0", "1"}[r.IntN(5)]
		}
		return strconv.Itoa(r.IntN(600) - 300)
	}
	switch r.IntN(14) {
	case 0, 1:
		return []string{"SETBIT", key(), off(), strconv.Itoa(r.IntN(2))}
	case 2, 3, 4:
		args := []string{"BITFIELD", key()}
		for i := 1 + r.IntN(4); i > 0; i-- {
			switch r.IntN(4) {
			case 0:
				args = append(args, "GET", typ(), off())
			case 1:
				args = append(args, "SET", typ(), off(), val())
			case 2:
				args = append(args, "INCRBY", typ(), off(), val())
			default:
				args = append(args, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)])
			}
		}
		return args
	case 5, 6:
		op := []string{"AND", "OR", "XOR", "NOT"}[r.IntN(4)]
		args := []string{"BITOP", op, key(), key()}
		for i := r.IntN(3); op != "NOT" && i > 0; i-- {
			args = append(args, key())
		}
		return args
	case 7:
		return []string{"BITCOUNT", key(), off(), "-1", "BIT"}
	case 8:
		return []string{"BITPOS", key(), strconv.Itoa(r.IntN(2)), "0", "-1"}
	case 9:
		return []string{"SET", key(), strings.Repeat("\xff", r.IntN(10))}
	case 10:
		return []string{"SETRANGE", key(), off(), "\x00\x01"}
	case 11:
		return []string{"PEXPIRE", key(), strconv.Itoa(1 + r.IntN(2000))}
	case 12:
		return []string{"RPUSH", key(), "x"}
	}
	return []string{"DEL", key()}
}

// TestBitmapEffectsReplicate runs random bitmap commands on a master and
// applies its effects to a replica: their digests must agree at every step.
func TestBitmapEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			master, log := rp.master, rp.log
			r := rand.New(rand.NewPCG(seed, seed*13))
			replicate(t, r, rp, func() []string { return bitmapCommand(r) }, 3000, 5, 15, func() {
				switch r.IntN(10) {
				case 0:
					clock.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
				case 1:
					master.ActiveExpire()
				}
			})
			if len(log.units) < 500 {
				t.Fatalf("only %d units emitted", len(log.units))
			}
		})
	}
}

// TestBitmapPropagation checks which bitmap writes emit an effect: those
// that changed the keyspace, as received.
func TestBitmapPropagation(t *testing.T) {
	e := command.New(command.Config{})
	log := &unitLog{}
	e.SetLog(log)
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	for _, tc := range []struct {
		cmd  string
		emit bool
	}{
		{"SETBIT k 7 1", true},
		{"SETBIT k 7 1", false},
		{"SETBIT k 7 0", true},
		{"SETBIT k 7 0", false},
		{"SETBIT k 15 0", true}, // pads the string
		{"SETBIT k x 1", false},
		{"GETBIT k 7", false},
		{"BITCOUNT k", false},
		{"BITPOS k 1", false},
		{"BITFIELD k", false},
		{"BITFIELD k GET u8 0 GET i4 3", false},
		{"BITFIELD k SET u8 0 0 INCRBY u4 8 0", false},
		{"BITFIELD k OVERFLOW FAIL INCRBY u8 0 300 SET i8 8 128", false},
		{"BITFIELD k OVERFLOW FAIL INCRBY u8 0 300 INCRBY u8 0 1", true},
		{"BITFIELD k OVERFLOW FAIL INCRBY u8 100 300", true}, // pads the string
		{"BITFIELD new OVERFLOW FAIL SET u8 0 256", true},    // creates the key
		{"BITFIELD k GET u8 0 SET u8 0 x", false},
		{"BITFIELD_RO k GET u8 0", false},
		{"BITOP AND d missing", false},
		{"BITOP NOT d k", true},
		{"BITOP AND d missing", true}, // deletes d
		{"BITOP FOO d k", false},
	} {
		before := len(log.units)
		reply := exec(e, cl, strings.Fields(tc.cmd)...)
		got := len(log.units) > before
		if got != tc.emit {
			t.Fatalf("%s (reply %q): emitted %v, want %v", tc.cmd, reply, got, tc.emit)
		}
		if want := string(encodeCmd(strings.Fields(tc.cmd)...)); got && string(log.units[before]) != want {
			t.Fatalf("%s: emitted %q, want %q", tc.cmd, log.units[before], want)
		}
	}
}

// encodeCmd encodes a command as a RESP array of bulk strings.
func encodeCmd(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// TestBitfieldOverflow checks BITFIELD's arithmetic at the limits of its
// types under each overflow policy, with replies taken from Redis 7.0.15
// (nil: an operation OVERFLOW FAIL refused).
func TestBitfieldOverflow(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	for _, tc := range []struct{ ops, want string }{
		{"SET u8 0 255 INCRBY u8 0 1 INCRBY u8 0 -2 INCRBY u8 0 300 INCRBY u8 0 -9223372036854775808",
			"0 0 254 42 42"},
		{"OVERFLOW SAT SET u8 0 250 INCRBY u8 0 10 INCRBY u8 0 -300 SET u8 0 -1 SET u8 0 256 GET u8 0",
			"0 255 0 0 255 255"},
		{"OVERFLOW FAIL SET u8 0 256 SET u8 0 -1 SET u8 0 255 INCRBY u8 0 1 INCRBY u8 0 -256 INCRBY u8 0 -255",
			"nil nil 0 nil nil 0"},
		{"SET i8 0 127 INCRBY i8 0 1 INCRBY i8 0 -1 SET i8 0 200 SET i8 0 -129 GET i8 0",
			"0 -128 127 127 -56 127"},
		{"OVERFLOW SAT SET i8 0 100 INCRBY i8 0 100 INCRBY i8 0 -300 SET i8 0 128 SET i8 0 -129 GET i8 0",
			"0 127 -128 -128 127 -128"},
		{"OVERFLOW FAIL SET i8 0 128 SET i8 0 -129 SET i8 0 -128 INCRBY i8 0 -1 INCRBY i8 0 255 INCRBY i8 0 256",
			"nil nil 0 nil 127 nil"},
		// Setting a value far below the minimum saturates to the maximum.
		{"OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0 SET i8 0 -9223372036854775681 GET i8 0 SET i8 0 -9223372036854775680 GET i8 0",
			"0 127 127 127 127 -128"},
		{"OVERFLOW SAT SET i63 0 -9223372036854775808 GET i63 0 SET i32 0 -9223372036854775808 GET i32 0",
			"0 4611686018427387903 2147483647 2147483647"},
		{"SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -1 OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 9223372036854775807",
			"0 -9223372036854775808 9223372036854775807 9223372036854775806 -2 9223372036854775805"},
		{"OVERFLOW FAIL SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807 INCRBY i64 0 1",
			"0 nil -1 9223372036854775806 9223372036854775807"},
		{"OVERFLOW SAT SET u63 0 -1 INCRBY u63 0 1 INCRBY u63 0 -9223372036854775808 OVERFLOW WRAP INCRBY u63 0 -1 INCRBY u63 0 9223372036854775807",
			"0 9223372036854775807 0 9223372036854775807 9223372036854775806"},
		{"SET i1 0 1 GET i1 0 INCRBY i1 0 1 OVERFLOW SAT INCRBY i1 0 5 INCRBY i1 0 -5 SET u1 0 2 OVERFLOW FAIL SET u1 0 2 SET i1 0 -1",
			"0 -1 0 0 -1 1 nil -1"},
		{"SET i13 3 -1000 GET i13 3 GET u13 3 GET u8 0 GET u8 8",
			"0 -1000 7192 28 24"},
	} {
		exec(e, cl, "DEL", "k")
		got := exec(e, cl, append([]string{"BITFIELD", "k"}, strings.Fields(tc.ops)...)...)
		want := fmt.Sprintf("*%d\r\n", len(strings.Fields(tc.want)))
		for _, v := range strings.Fields(tc.want) {
			if v == "nil" {
				want += "$-1\r\n"
			} else {
				want += ":" + v + "\r\n"
			}
		}
		if got != want {
			t.Errorf("BITFIELD k %s\n got %q\nwant %q", tc.ops, got, want)
		}
	}
}
