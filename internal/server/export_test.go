package server

// LoopConns returns how many connections the event loop serves, or -1
// when no event loop runs.
func (s *Server) LoopConns() int64 {
	s.mu.Lock()
	lp := s.lp
	s.mu.Unlock()
	if lp == nil {
		return -1
	}
	return lp.count()
}
