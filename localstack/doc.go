// Package localstack holds ferry's local development stack and its tests:
// docker-compose.yml (MinIO, NATS with JetStream, a master and two
// replicas built from the repository's Dockerfile) and run.sh, which
// starts the same stack without Docker (versitygw in MinIO's place,
// nats-server built from the Go module proxy). The tests check the
// Dockerfile and the compose file statically, and run run.sh end to end.
package localstack
