package taker

import (
	"errors"
	"sync"
)

// spool carries the encoded RDB from the engine's goroutines (the scan and
// writes that touch keys ahead of it, under the engine lock, never
// blocking) to the upload.
type spool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	chunks  [][]byte
	free    [][]byte // chunks the upload is done with, for reuse
	size    int
	closed  bool
	aborted bool
	err     error
}

func newSpool() *spool {
	s := &spool{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Write queues a copy of p; it never blocks.
func (s *spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return 0, errors.New("snapshot upload stopped")
	}
	var c []byte
	if n := len(s.free); n > 0 && cap(s.free[n-1]) >= len(p) {
		c, s.free = s.free[n-1][:0], s.free[:n-1]
	}
	s.chunks = append(s.chunks, append(c, p...))
	s.size += len(p)
	s.cond.Broadcast()
	return len(p), nil
}

// next returns the oldest chunk, waiting for one; false once closed and
// drained.
func (s *spool) next() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.chunks) == 0 && !s.closed && !s.aborted {
		s.cond.Wait()
	}
	if len(s.chunks) == 0 || s.aborted {
		return nil, false
	}
	c := s.chunks[0]
	s.chunks[0] = nil
	s.chunks = s.chunks[1:]
	s.size -= len(c)
	s.cond.Broadcast()
	return c, true
}

// release gives back a chunk next returned, once it was written: reusing
// chunks keeps a snapshot from leaving its whole size as garbage.
func (s *spool) release(c []byte) {
	s.mu.Lock()
	if len(s.free) < 64 {
		s.free = append(s.free, c)
	}
	s.mu.Unlock()
}

// waitBelow waits until fewer than n bytes are queued; false if the
// upload stopped.
func (s *spool) waitBelow(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.size >= n && !s.aborted {
		s.cond.Wait()
	}
	return !s.aborted
}

// close ends the stream; err is the writer side's failure, if any.
func (s *spool) close(err error) {
	s.mu.Lock()
	s.closed, s.err = true, err
	s.cond.Broadcast()
	s.mu.Unlock()
}

// abort stops the writer side: the upload ended.
func (s *spool) abort() {
	s.mu.Lock()
	s.aborted = true
	s.chunks = nil
	s.size = 0
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *spool) error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
