package server_test

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// replicaListing connects a replica (SYNC on a raw connection) to addr
// and describes what another client sees of it: the flags and command
// CLIENT LIST TYPE replica shows, how many lines TYPE normal lists,
// connected_clients, CLIENT KILL TYPE replica's reply, and whether the
// replica's connection then ends.
func replicaListing(t *testing.T, addr string) string {
	t.Helper()
	nc := dialRaw(t, addr)
	nc.Write([]byte("SYNC\r\n"))
	c := redistest.Dial(t, addr)
	defer c.Close()
	var list string
	for deadline := time.Now().Add(5 * time.Second); ; {
		if list = c.Do("CLIENT", "LIST", "TYPE", "replica"); strings.Contains(list, "cmd=sync") || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	fields := regexp.MustCompile(`flags=\S+|cmd=\S+`).FindAllString(list, -1)
	normal := strings.Count(c.Do("CLIENT", "LIST", "TYPE", "normal"), "id=")
	clients := regexp.MustCompile(`connected_clients:\d+`).FindString(c.Do("INFO", "clients"))
	kill := c.Do("CLIENT", "KILL", "TYPE", "replica")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	// io.Copy's nil error is EOF: the server closed the link.
	return strings.Join(fields, " ") + " normal=" + strconv.Itoa(normal) + " " + clients + " kill=" + kill + " ended=" + strconv.FormatBool(err == nil)
}

// TestSyncReplicaListed checks that a Redis replica's link (after SYNC)
// is a replica as Redis lists it: flag S, CLIENT LIST/KILL TYPE replica
// (not normal), outside connected_clients (found by Redis's redis-cli
// 'Connecting as a replica' test, whose CLIENT KILL TYPE slave left
// redis-cli --replica connected).
func TestSyncReplicaListed(t *testing.T) {
	f := &fakeSync{got: make(chan command.SyncConn, 1), reqs: make(chan string, 10), done: make(chan error, 1)}
	_, ferryAddr := redistest.Ferry(t, command.Config{Sync: f})
	got := replicaListing(t, ferryAddr)
	want := replicaListing(t, redistest.Redis(t))
	if got != want {
		t.Errorf("ferry: %s\nredis: %s", got, want)
	}
	if want != "flags=S cmd=sync normal=1 connected_clients:1 kill=:1\r\n ended=true" {
		t.Errorf("redis-server: %s", want)
	}
}
