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
