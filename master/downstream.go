package master

import (
	"context"
	"errors"
	"strings"

	"github.com/ferrydb/ferry/downstream"
)

// serveRedisReplicas lets stock Redis replicas (redis-server --replicaof,
// redis-cli --rdb) sync from this master: an RDB cut at an offset the log
// has stored, then the log from there (package downstream).
func (m *Master) serveRedisReplicas() error {
	ds, err := downstream.New(downstream.Config{
		Engine: m.engine, Log: m.cfg.Log, Source: masterSource{m}, Cuts: &m.cuts,
		Dataset: m.cfg.Dataset, Generation: m.gen, Logger: m.log,
	})
	if err != nil {
		return err
	}
	m.engine.SetSync(ds)
	return nil
}

// masterSource is the master as a downstream.Source.
type masterSource struct{ m *Master }

// Cut implements downstream.Source: the offset of the entry that holds the
// last write applied (its open entry is sealed), durable once the
// publisher has stored that write. The caller holds the engine lock.
func (s masterSource) Cut() (uint64, func(context.Context) error, error) {
	m := s.m
	if reason := m.engine.WriteError(); reason != "" {
		return 0, nil, errors.New("the master takes no writes: " + strings.TrimPrefix(reason, "READONLY "))
	}
	unit, offset, err := m.pub.cut()
	if err != nil {
		return 0, nil, err
	}
	return offset, func(context.Context) error { return m.pub.WaitDurable(unit, false) }, nil
}
