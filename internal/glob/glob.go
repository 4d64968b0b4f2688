// Package glob matches Redis glob-style patterns (KEYS, SCAN MATCH,
// PSUBSCRIBE, CONFIG GET), with the semantics of Redis's stringmatchlen:
// '*', '?', '[...]' with '^' negation and 'a-z' ranges, and '\' escapes.
package glob

// Match reports whether s matches pattern.
func Match(pattern, s string) bool {
	var giveUp bool
	return match(pattern, s, false, 0, &giveUp)
}

// MatchFold is Match ignoring ASCII case.
func MatchFold(pattern, s string) bool {
	var giveUp bool
	return match(pattern, s, true, 0, &giveUp)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// match follows stringmatchlen; nesting bounds recursion on "****" patterns.
//
// giveUp is Redis 7.0's skipLongerMatches: once the pattern after a '*'
// failed to match any suffix of s, down to the empty one, no outer '*'
// can do better by handing it a shorter suffix, so every level stops.
// Without it "a*a*a*...*b" against a long run of a's takes exponential
// time (Redis's regression test keeps a server busy for good; ferry held
// its engine lock, and no client got an answer again).
func match(p, s string, fold bool, nesting int, giveUp *bool) bool {
	if nesting > 1000 {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, fold, nesting+1, giveUp) {
					return true
				}
				if *giveUp {
					return false
				}
				s = s[1:]
			}
			*giveUp = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			matched := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						matched = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					start, end := p[0], p[2]
					c := s[0]
					if start > end {
						start, end = end, start
					}
					if fold {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p = p[2:]
					if c >= start && c <= end {
						matched = true
					}
				} else if fold && lower(p[0]) == lower(s[0]) || !fold && p[0] == s[0] {
					matched = true
				}
				p = p[1:]
			}
			if len(p) == 0 {
				// unterminated class: Redis treats the end as ']'.
				p = "]"
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if fold && lower(p[0]) != lower(s[0]) || !fold && p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
