package main

import "testing"

func TestCheckAnnounce(t *testing.T) {
	for _, ok := range []string{"", "db.example:6379", "10.0.0.7:1", "[2001:db8::1]:65535"} {
		if err := checkAnnounce(ok); err != nil {
			t.Errorf("checkAnnounce(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"db.example", ":6379", "db.example:0", "db.example:65536", "db.example:port", "2001:db8::1:6379"} {
		if err := checkAnnounce(bad); err == nil {
			t.Errorf("checkAnnounce(%q) accepted", bad)
		}
	}
}

// TestTakeSnapshotsNeedsStore: a replica asked to take snapshots without a
// store is refused before it connects to anything.
func TestTakeSnapshotsNeedsStore(t *testing.T) {
	err := runReplica([]string{"--nats", "nats://127.0.0.1:1", "--take-snapshots"})
	if err == nil || err.Error() != "ferry replica: --take-snapshots needs --store" {
		t.Fatalf("ferry replica --take-snapshots without --store = %v", err)
	}
}

// TestTakeSnapshotsNotOnMirror: a replica that takes the snapshots trims
// the log, which it cannot do through a mirror.
func TestTakeSnapshotsNotOnMirror(t *testing.T) {
	store := "file://" + t.TempDir()
	err := runReplica([]string{"--nats", "nats://127.0.0.1:1", "--store", store, "--take-snapshots", "--log-mirror", "FERRY_DEFAULT_EU"})
	if err == nil || err.Error() != "ferry replica: --take-snapshots reads the log from the stream itself, not --log-mirror" {
		t.Fatalf("ferry replica --take-snapshots --log-mirror = %v", err)
	}
}
