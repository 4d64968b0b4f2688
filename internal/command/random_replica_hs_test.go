package command_test

import "testing"

// TestRandomReplicateHashSet runs the random hash and set commands of
// TestRandomHashAgainstRedis and TestRandomSetAgainstRedis on a master
// engine, applies the effects it logs to a replica engine, and requires the
// same DEBUG DIGEST on both after every command (now and then a
// transaction of a few), as TestRandomReplicate does for the other types. Here SPOP's random picks are kept (no DEL
// after them): its effect (SREMs, or DEL for the whole set) must make the
// replica pop the same members; HINCRBYFLOAT must reach it as the value
// the master computed. CONFIG SET of the encoding limits changes the
// master only, so the replica's encodings may differ while its contents
// may not.
func TestRandomReplicateHashSet(t *testing.T) {
	replicateSteps(t, map[string]func(d *diff){"hash": hashStep, "set": setStep}, []string{"hash", "set"}, 1500, 98)
}
