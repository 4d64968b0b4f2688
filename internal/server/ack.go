package server

import "github.com/ferrydb/ferry/internal/resp"

// SetAckWaiter makes every connection wait, before it writes replies, until
// wait(need) returns: need is the engine's UnitSeq once the connection's
// commands ran, so a reply never leaves before the effects it depends on,
// its own or other clients', are as durable as the master promises. When
// wait fails the connection is closed without the replies: the client never
// hears that a write succeeded that the log may not have. Call before Serve.
func (s *Server) SetAckWaiter(wait func(need uint64) error) { s.ackWait = wait }

// SetAckPoller gives the event loop (SetEventLoop) a way to ask, without
// waiting, whether the ack waiter would return now: poll(need) returns
// true, or false and the error the waiter would return. notify registers
// a function that the log calls, from any goroutine, whenever poll's
// answer may have changed. Without them a server with an ack waiter
// serves every connection on a goroutine of its own. Call before Serve.
func (s *Server) SetAckPoller(poll func(need uint64) (bool, error), notify func(progress func())) {
	s.ackPoll, s.ackNotify = poll, notify
}

// SetEventLoop makes the server serve plain request-reply connections on
// one event loop instead of a goroutine each, where the platform allows
// (Linux). Call before Serve.
func (s *Server) SetEventLoop(on bool) { s.useLoop = on }

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
