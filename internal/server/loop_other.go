//go:build !linux

package server

import (
	"errors"
	"net"
)

// loop is the event loop, which only Linux has: elsewhere every
// connection has a goroutine of its own.
type loop struct{}

// loopConn is a connection's state in the event loop.
type loopConn struct{}

func (s *Server) newLoop() (*loop, error) {
	return nil, errors.New("server: no event loop on this platform")
}

func (l *loop) add(net.Conn) bool { return false }
func (l *loop) post(*conn)        {}
func (l *loop) stop()             {}
func (l *loop) adopt(*conn) error { return nil }
func (l *loop) count() int64      { return 0 }
func shutdownFD(int)              {}
