package server

import "github.com/ferrydb/ferry/internal/resp"

// SetAckWaiter makes every connection wait, before it writes replies, until
// wait(need) returns: need is the engine's UnitSeq once the connection's
// commands ran, so a reply never leaves before the effects it depends on,
// its own or other clients', are as durable as the master promises. When
// wait fails the connection is closed without the replies: the client never
// hears that a write succeeded that the log may not have. Call before Serve.
func (s *Server) SetAckWaiter(wait func(need uint64) error) { s.ackWait = wait }

// ackedFlush waits for the log, then writes the replies in out (the
// client's writer, or the replies it had before it blocked).
func (c *conn) ackedFlush(out *resp.Writer) error {
	if w := c.s.ackWait; w != nil && c.need > 0 && out.Len() > 0 {
		if err := w(c.need); err != nil {
			out.Reset()
			return err
		}
	}
	return c.flushWriter(out)
}
