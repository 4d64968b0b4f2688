// Package e2e holds ferry's end-to-end tests of replication: a real
// embedded NATS server with JetStream (stream/natsserver) on a temporary
// directory, real masters (master.Master) and replicas (replica.Replica) on
// loopback ports, and clients speaking RESP over TCP. The tests take NATS
// away under load, start two masters on one dataset, restart masters on
// their log, and check that every acknowledged write reaches the master and
// the replicas, that nothing is applied twice, and that master and replica
// end with equal DEBUG DIGEST.
//
// The package has tests only; run them with
//
//	go test ./e2e
//
// Set FERRY_E2E_LOG=debug (or info, warn, error) to see the nodes' logs on
// stderr.
package e2e
