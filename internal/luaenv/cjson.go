package luaenv

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// luaMaxCStack is LUAI_MAXCSTACK, the number of stack slots one C function
// of Redis's Lua may use: the libraries' nesting limits come from it.
const luaMaxCStack = 8000

// cjsonConfig is the state the cjson configuration functions change. Like
// Redis's, it lives as long as the Lua state: a setting a script makes
// holds for the scripts after it, until SCRIPT FLUSH.
type cjsonConfig struct {
	sparseConvert  bool
	sparseRatio    int
	sparseSafe     int
	encodeMaxDepth int
	decodeMaxDepth int
	encodeInvalid  int // 0 off, 1 on, 2 null
	decodeInvalid  bool
	keepBuffer     bool
	precision      int
}

func defaultCjsonConfig() *cjsonConfig {
	return &cjsonConfig{
		sparseRatio: 2, sparseSafe: 10, encodeMaxDepth: 1000, decodeMaxDepth: 1000,
		decodeInvalid: true, keepBuffer: true, precision: 14,
	}
}

// newCjson returns a cjson module table (Lua CJSON 2.1.0 as Redis builds
// it) with its own configuration; null is the value standing for JSON null
// (Redis's NULL light userdata), shared by every module table of a state.
func newCjson(L *lua.LState, null *lua.LUserData) *lua.LTable {
	cfg := defaultCjsonConfig()
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				badArg(L, 1, "expected 1 argument")
			}
			enc := jsonEncoder{L: L, cfg: cfg, null: null}
			enc.value(L.Get(1), 0, 1)
			L.Push(lua.LString(enc.buf))
			return 1
		},
		"decode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				badArg(L, 1, "expected 1 argument")
			}
			s := checkString(L, 1)
			if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
				raisef(L, "JSON parser does not support UTF-16 or UTF-32")
			}
			L.Push(decodeJSON(L, cfg, null, s))
			return 1
		},
		"encode_sparse_array": func(L *lua.LState) int {
			cjsonArgs(L, 3)
			boolOption(L, 1, &cfg.sparseConvert)
			intOption(L, 2, &cfg.sparseRatio, 0, math.MaxInt32)
			intOption(L, 3, &cfg.sparseSafe, 0, math.MaxInt32)
			return 3
		},
		"encode_max_depth": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			intOption(L, 1, &cfg.encodeMaxDepth, 1, math.MaxInt32)
			return 1
		},
		"decode_max_depth": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			intOption(L, 1, &cfg.decodeMaxDepth, 1, math.MaxInt32)
			return 1
		},
		"encode_number_precision": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			intOption(L, 1, &cfg.precision, 1, 14)
			return 1
		},
		"encode_keep_buffer": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			boolOption(L, 1, &cfg.keepBuffer)
			return 1
		},
		"encode_invalid_numbers": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			if v := L.Get(1); v != lua.LNil {
				if b, ok := v.(lua.LBool); ok {
					cfg.encodeInvalid = 0
					if b {
						cfg.encodeInvalid = 1
					}
				} else {
					cfg.encodeInvalid = checkOption(L, 1, []string{"off", "on", "null"})
				}
			}
			if cfg.encodeInvalid == 2 {
				L.Push(lua.LString("null"))
			} else {
				L.Push(lua.LBool(cfg.encodeInvalid == 1))
			}
			return 1
		},
		"decode_invalid_numbers": func(L *lua.LState) int {
			cjsonArgs(L, 1)
			boolOption(L, 1, &cfg.decodeInvalid)
			return 1
		},
		"new": func(L *lua.LState) int {
			L.Push(newCjson(L, null))
			return 1
		},
	}
	for name, f := range fns {
		t.RawSetString(name, L.NewFunction(f))
	}
	t.RawSetString("null", null)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	return t
}

// cjsonArgs refuses more than n arguments and pads the stack with nils to
// n, as the configuration functions do.
func cjsonArgs(L *lua.LState, n int) {
	if L.GetTop() > n {
		badArg(L, n+1, "found too many arguments")
	}
	for L.GetTop() < n {
		L.Push(lua.LNil)
	}
}

// intOption sets *setting from argument i when it is not nil, within
// [lo, hi], and pushes the setting. Out-of-range values are reported as
// argument 1, whatever i is, as Lua CJSON does.
func intOption(L *lua.LState, i int, setting *int, lo, hi int) {
	if L.Get(i) != lua.LNil {
		v := int(int32(luaInteger(checkNumber(L, i))))
		if v < lo || v > hi {
			badArg(L, 1, "expected integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
		}
		*setting = v
	}
	L.Push(lua.LNumber(*setting))
}

// boolOption sets *setting from argument i (a boolean, "off" or "on") when
// it is not nil, and pushes the setting.
func boolOption(L *lua.LState, i int, setting *bool) {
	if v := L.Get(i); v != lua.LNil {
		if b, ok := v.(lua.LBool); ok {
			*setting = bool(b)
		} else {
			*setting = checkOption(L, i, []string{"off", "on"}) == 1
		}
	}
	L.Push(lua.LBool(*setting))
}

// checkOption is luaL_checkoption without a default.
func checkOption(L *lua.LState, i int, options []string) int {
	s := checkString(L, i)
	for j, o := range options {
		if o == s {
			return j
		}
	}
	badArg(L, i, "invalid option '"+s+"'")
	return 0
}

// jsonEscapes is how the encoder writes each byte that it escapes.
var jsonEscapes = func() [256]string {
	var e [256]string
	const hex = "0123456789abcdef"
	for c := 0; c < 0x20; c++ {
		e[c] = `\u00` + string(hex[c>>4]) + string(hex[c&15])
	}
	e['\b'], e['\t'], e['\n'], e['\f'], e['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	e['"'], e['\\'], e['/'] = `\"`, `\\`, `\/`
	e[0x7f] = `\u007f`
	return e
}()

// jsonEncoder builds one cjson.encode result.
type jsonEncoder struct {
	L    *lua.LState
	cfg  *cjsonConfig
	null *lua.LUserData
	buf  []byte
}

func (e *jsonEncoder) fail(v lua.LValue, reason string) {
	raisef(e.L, "Cannot serialise %s: %s", typeName(v), reason)
}

// value appends v. depth counts the tables open around v; top is how
// many stack slots Lua CJSON would be using, for its stack check.
func (e *jsonEncoder) value(v lua.LValue, depth, top int) {
	switch v := v.(type) {
	case lua.LString:
		e.str(string(v))
	case lua.LNumber:
		e.number(v)
	case lua.LBool:
		if v {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *lua.LTable:
		depth++
		if depth > e.cfg.encodeMaxDepth || top+3 > luaMaxCStack {
			raisef(e.L, "Cannot serialise, excessive nesting (%d)", depth)
		}
		keys, vals := tableEntries(v)
		if n := e.arrayLength(v, keys); n > 0 {
			e.buf = append(e.buf, '[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					e.buf = append(e.buf, ',')
				}
				e.value(v.RawGetInt(i), depth, top+1)
			}
			e.buf = append(e.buf, ']')
			return
		}
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			switch k := k.(type) {
			case lua.LNumber:
				e.buf = append(e.buf, '"')
				e.number(k)
				e.buf = append(e.buf, '"', ':')
			case lua.LString:
				e.str(string(k))
				e.buf = append(e.buf, ':')
			default:
				e.fail(k, "table key must be a number or string")
			}
			e.value(vals[i], depth, top+2)
		}
		e.buf = append(e.buf, '}')
	case *lua.LUserData:
		if v == e.null {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.fail(v, "type not supported")
	default:
		e.fail(v, "type not supported")
	}
}

// arrayLength returns the length of t as a JSON array, or -1 (or 0) when
// t is to be an object: its keys must all be integers from 1, and not too
// sparse.
func (e *jsonEncoder) arrayLength(t *lua.LTable, keys []lua.LValue) int {
	max, items := 0, 0
	for _, k := range keys {
		n, ok := k.(lua.LNumber)
		f := float64(n)
		if !ok || f == 0 || math.Floor(f) != f || f < 1 {
			return -1
		}
		// Lua CJSON keeps the largest key in a C int: keys past its
		// range wrap to INT_MIN, as the x86-64 conversion does.
		if f > float64(max) {
			if f >= 1<<31 {
				max = math.MinInt32
			} else {
				max = int(f)
			}
		}
		items++
	}
	cfg := e.cfg
	if cfg.sparseRatio > 0 && max > items*cfg.sparseRatio && max > cfg.sparseSafe {
		if !cfg.sparseConvert {
			e.fail(t, "excessively sparse array")
		}
		return -1
	}
	return max
}

func (e *jsonEncoder) str(s string) {
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); i++ {
		if esc := jsonEscapes[s[i]]; esc != "" {
			e.buf = append(e.buf, esc...)
		} else {
			e.buf = append(e.buf, s[i])
		}
	}
	e.buf = append(e.buf, '"')
}

func (e *jsonEncoder) number(n lua.LNumber) {
	f := float64(n)
	switch e.cfg.encodeInvalid {
	case 0:
		if math.IsInf(f, 0) || math.IsNaN(f) {
			e.fail(n, "must not be NaN or Inf")
		}
	case 1:
		if math.IsNaN(f) {
			e.buf = append(e.buf, "nan"...)
			return
		}
	default:
		if math.IsInf(f, 0) || math.IsNaN(f) {
			e.buf = append(e.buf, "null"...)
			return
		}
	}
	e.buf = append(e.buf, formatG(f, e.cfg.precision)...)
}

// formatG is C's printf "%.<prec>g".
func formatG(f float64, prec int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}

// JSON decoding.

type jsonTokenType int

const (
	tObjBegin jsonTokenType = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tError
)

var jsonTokenNames = [...]string{
	"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING", "T_NUMBER",
	"T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END",
}

// jsonPunct are the one-byte tokens.
var jsonPunct = map[byte]jsonTokenType{'{': tObjBegin, '}': tObjEnd, '[': tArrBegin, ']': tArrEnd, ',': tComma, ':': tColon}

type jsonToken struct {
	typ   jsonTokenType
	index int    // where the token (or the error) starts
	err   string // for tError
	str   string
	num   float64
	b     bool
}

// jsonParser is one cjson.decode. The input ends at its first NUL byte,
// as the C string Lua CJSON reads does.
type jsonParser struct {
	L     *lua.LState
	cfg   *cjsonConfig
	null  *lua.LUserData
	data  string
	pos   int
	depth int
}

func decodeJSON(L *lua.LState, cfg *cjsonConfig, null *lua.LUserData, s string) lua.LValue {
	p := &jsonParser{L: L, cfg: cfg, null: null, data: s}
	tok := p.next()
	v := p.value(tok, 1)
	if tok = p.next(); tok.typ != tEnd {
		p.fail("the end", tok)
	}
	return v
}

// at returns the byte at i, or 0 past the end.
func (p *jsonParser) at(i int) byte {
	if i < len(p.data) {
		return p.data[i]
	}
	return 0
}

func (p *jsonParser) fail(expected string, tok jsonToken) {
	found := tok.err
	if tok.typ != tError {
		found = jsonTokenNames[tok.typ]
	}
	raisef(p.L, "Expected %s but found %s at character %d", expected, found, tok.index+1)
}

func (p *jsonParser) errToken(msg string) jsonToken {
	return jsonToken{typ: tError, index: p.pos, err: msg}
}

func (p *jsonParser) next() jsonToken {
	for {
		c := p.at(p.pos)
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		p.pos++
	}
	c := p.at(p.pos)
	tok := jsonToken{index: p.pos}
	if t, ok := jsonPunct[c]; ok {
		p.pos++
		tok.typ = t
		return tok
	}
	rest := p.data[min(p.pos, len(p.data)):]
	switch {
	case c == 0:
		tok.typ = tEnd
		return tok
	case c == '"':
		return p.stringToken()
	case c == '-' || ('0' <= c && c <= '9'):
		if !p.cfg.decodeInvalid && p.invalidNumber() {
			return p.errToken("invalid number")
		}
		return p.numberToken()
	case c == 't' || c == 'f' || c == 'n' || c == 'i' || c == 'I' || c == 'N' || c == '+':
		switch {
		case strings.HasPrefix(rest, "true"):
			p.pos += 4
			tok.typ, tok.b = tBoolean, true
			return tok
		case strings.HasPrefix(rest, "false"):
			p.pos += 5
			tok.typ = tBoolean
			return tok
		case strings.HasPrefix(rest, "null"):
			p.pos += 4
			tok.typ = tNull
			return tok
		case p.cfg.decodeInvalid && p.invalidNumber():
			return p.numberToken()
		}
	}
	return p.errToken("invalid token")
}

// invalidNumber tells whether the number at pos is one strict JSON does
// not allow but strtod reads: a leading '+', hex, leading zeros, inf, nan.
func (p *jsonParser) invalidNumber() bool {
	i := p.pos
	switch p.at(i) {
	case '+':
		return true
	case '-':
		i++
	}
	c := p.at(i)
	if c == '0' {
		c2 := p.at(i + 1)
		return c2|0x20 == 'x' || ('0' <= c2 && c2 <= '9')
	}
	if c <= '9' {
		return false
	}
	rest := strings.ToLower(p.data[i:min(i+3, len(p.data))])
	return rest == "inf" || rest == "nan"
}

func (p *jsonParser) numberToken() jsonToken {
	end := p.pos + strtodLen(p.data[p.pos:])
	if end == p.pos {
		return p.errToken("invalid number")
	}
	tok := jsonToken{typ: tNumber, index: p.pos, num: strtod(p.data[p.pos:end])}
	p.pos = end
	return tok
}

func (p *jsonParser) stringToken() jsonToken {
	start := p.pos
	p.pos++
	var b []byte
	for {
		c := p.at(p.pos)
		if c == '"' {
			break
		}
		if c == 0 {
			return p.errToken("unexpected end of string")
		}
		if c == '\\' {
			switch e := p.at(p.pos + 1); e {
			case '"', '\\', '/':
				c = e
			case 'b':
				c = '\b'
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'f':
				c = '\f'
			case 'r':
				c = '\r'
			case 'u':
				var ok bool
				if b, ok = p.unicodeEscape(b); !ok {
					return p.errToken("invalid unicode escape code")
				}
				continue
			default:
				return p.errToken("invalid escape code")
			}
			p.pos++
		}
		b = append(b, c)
		p.pos++
	}
	p.pos++
	return jsonToken{typ: tString, index: start, str: string(b)}
}

// hex4 reads four hex digits at i, or returns -1.
func (p *jsonParser) hex4(i int) int {
	v := 0
	for j := 0; j < 4; j++ {
		c := p.at(i + j)
		var d int
		switch {
		case '0' <= c && c <= '9':
			d = int(c - '0')
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			d = int(c|0x20-'a') + 10
		default:
			return -1
		}
		v = v<<4 | d
	}
	return v
}

// unicodeEscape decodes the \uXXXX escape (or surrogate pair) at pos into
// UTF-8, as Lua CJSON does: no check that the code point is a valid one.
func (p *jsonParser) unicodeEscape(b []byte) ([]byte, bool) {
	cp := p.hex4(p.pos + 2)
	if cp < 0 {
		return b, false
	}
	n := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 || p.at(p.pos+6) != '\\' || p.at(p.pos+7) != 'u' {
			return b, false
		}
		lo := p.hex4(p.pos + 8)
		if lo < 0 || lo&0xFC00 != 0xDC00 {
			return b, false
		}
		cp = ((cp&0x3FF)<<10 | lo&0x3FF) + 0x10000
		n = 12
	}
	switch {
	case cp <= 0x7F:
		b = append(b, byte(cp))
	case cp <= 0x7FF:
		b = append(b, byte(cp>>6|0xC0), byte(cp&0x3F|0x80))
	case cp <= 0xFFFF:
		b = append(b, byte(cp>>12|0xE0), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	default:
		b = append(b, byte(cp>>18|0xF0), byte(cp>>12&0x3F|0x80), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	}
	p.pos += n
	return b, true
}

// descend enters a nested array or object; top is the stack slots in use,
// slots those it needs.
func (p *jsonParser) descend(top, slots int) {
	p.depth++
	if p.depth > p.cfg.decodeMaxDepth || top+slots > luaMaxCStack {
		raisef(p.L, "Found too many nested data structures (%d) at character %d", p.depth, p.pos)
	}
}

// value converts the value starting with tok; top is the stack slots Lua
// CJSON would be using.
func (p *jsonParser) value(tok jsonToken, top int) lua.LValue {
	switch tok.typ {
	case tString:
		return lua.LString(tok.str)
	case tNumber:
		return lua.LNumber(tok.num)
	case tBoolean:
		return lua.LBool(tok.b)
	case tNull:
		return p.null
	case tObjBegin:
		p.descend(top, 3)
		t := p.L.NewTable()
		tok = p.next()
		if tok.typ == tObjEnd {
			p.depth--
			return t
		}
		for {
			if tok.typ != tString {
				p.fail("object key string", tok)
			}
			key := tok.str
			if tok = p.next(); tok.typ != tColon {
				p.fail("colon", tok)
			}
			t.RawSetString(key, p.value(p.next(), top+2))
			tok = p.next()
			if tok.typ == tObjEnd {
				p.depth--
				return t
			}
			if tok.typ != tComma {
				p.fail("comma or object end", tok)
			}
			tok = p.next()
		}
	case tArrBegin:
		p.descend(top, 2)
		t := p.L.NewTable()
		tok = p.next()
		if tok.typ == tArrEnd {
			p.depth--
			return t
		}
		for i := 1; ; i++ {
			t.RawSetInt(i, p.value(tok, top+1))
			tok = p.next()
			if tok.typ == tArrEnd {
				p.depth--
				return t
			}
			if tok.typ != tComma {
				p.fail("comma or array end", tok)
			}
			tok = p.next()
		}
	}
	p.fail("value", tok)
	return lua.LNil
}
