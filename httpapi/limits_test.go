package httpapi

import (
	"strings"
	"testing"
)

// TestParseLimits: a body within the size limit cannot make the parser
// build millions of commands or arguments.
func TestParseLimits(t *testing.T) {
	body := "[" + strings.Repeat(`["PING"],`, maxPipeline) + `["PING"]]`
	if _, err := parseCommands([]byte(body)); err == nil || !strings.Contains(err.Error(), "more than 100000 commands") {
		t.Fatalf("%d commands: %v", maxPipeline+1, err)
	}
	body = "[" + strings.Repeat(`["PING"],`, maxPipeline-1) + `["PING"]]`
	if cmds, err := parseCommands([]byte(body)); err != nil || len(cmds) != maxPipeline {
		t.Fatalf("%d commands: %d, %v", maxPipeline, len(cmds), err)
	}
	body = `["DEL"` + strings.Repeat(`,"k"`, maxArgs) + "]"
	if _, err := parseCommand([]byte(body)); err == nil || !strings.Contains(err.Error(), "arguments in one command") {
		t.Fatalf("%d arguments: %v", maxArgs+1, err)
	}
	for _, bad := range []string{`["GET","k"] x`, `["GET","k"`, `null`, `{"a":1}`, `[["GET"]] [`} {
		if _, err := parseCommand([]byte(bad)); err == nil {
			t.Errorf("parseCommand(%q) accepted", bad)
		}
	}
	if _, err := parseCommands([]byte(`[["GET","k"]] [`)); err == nil {
		t.Error("parseCommands accepted data after the array")
	}
}
