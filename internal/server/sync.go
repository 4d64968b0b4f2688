package server

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// errSyncEnded ends the connection of a replica once the SyncProvider is
// done with it.
var errSyncEnded = io.EOF

// handOver gives the connection to the engine's SyncProvider after SYNC or
// PSYNC: from then on it is a replica's link, not a client's, and serves
// no more commands. The provider runs on the connection's goroutine, so
// Close waits for it; its context ends when the server closes.
func (c *conn) handOver(req command.SyncRequest) error {
	p := c.s.e.Config().Sync
	if p == nil {
		return errors.New("sync: no provider") // SYNC refuses without one
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Replies a stalled write moved to the writer goroutine go out first;
	// the provider owns the output from then on.
	if err := c.stopWriter(); err != nil {
		return err
	}
	// Synchronous writes leave a deadline behind.
	c.nc.SetWriteDeadline(time.Time{})
	err := p.ServeSync(ctx, command.SyncConn{Conn: c.nc, Reader: c.rd, Client: c.cl, Request: req})
	if err != nil {
		return err // the provider logs its links
	}
	return errSyncEnded
}
