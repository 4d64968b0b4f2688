package replica

import (
	"context"

	"github.com/ferrydb/ferry/downstream"
)

// serveRedisReplicas lets stock Redis replicas (redis-server --replicaof,
// redis-cli --rdb) sync from this replica, cascading: an RDB cut at the
// offset it applied, then the log from there (package downstream).
func (r *Replica) serveRedisReplicas() error {
	ds, err := downstream.New(downstream.Config{
		Engine: r.engine, Log: r.cfg.Log, Source: replicaSource{r},
		Dataset: r.cfg.Dataset, Logger: r.log,
	})
	if err != nil {
		return err
	}
	r.engine.SetSync(ds)
	return nil
}

// replicaSource is the replica as a downstream.Source.
type replicaSource struct{ r *Replica }

// Cut implements downstream.Source: the offset applied, which the
// keyspace holds (it moves under the engine lock with each entry's
// effects) and which the log stored before the replica could read it. The
// caller holds the engine lock.
func (s replicaSource) Cut() (uint64, func(context.Context) error, error) {
	return s.r.Offset(), nil, nil
}
