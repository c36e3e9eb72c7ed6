package mockserver

import (
	"strconv"
	"unicode/utf16"
)

// jsSyntaxError returns the message of the SyntaxError that JSON.parse(text) throws in Node 20
// (V8 11), or "" when text is valid JSON. The blueprints put it in the 500 a malformed `where`
// gets (Model.find). Positions count UTF-16 code units, as JavaScript strings do.
//
// The messages are V8's for the common mistakes (an unexpected character, a missing colon,
// comma or bracket, an unterminated string or number, a bad escape, trailing text); the rules
// below were worked out by comparing answers of Node 20 to the same inputs.
func jsSyntaxError(text string) string {
	p := &jsonScan{src: utf16.Encode([]rune(text))}
	p.skipWS()
	if !p.value() {
		return p.msg
	}
	p.skipWS()
	if p.pos < len(p.src) {
		p.failAt("Unexpected non-whitespace character after JSON")
		return p.msg
	}
	return ""
}

// jsonScan is a JSON syntax checker that stops at the first error, as V8's JSON parser does.
type jsonScan struct {
	src []uint16
	pos int
	msg string
}

const jsonContext = 10 // characters of context V8 quotes around an unexpected token

func (p *jsonScan) atEnd() bool { return p.pos >= len(p.src) }

func (p *jsonScan) skipWS() {
	for !p.atEnd() {
		switch p.src[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

// failAt reports a message that names the position ("... in JSON at position N").
func (p *jsonScan) failAt(what string) bool {
	p.msg = what + " in JSON at position " + strconv.Itoa(p.pos)
	if what == "Unexpected non-whitespace character after JSON" {
		p.msg = what + " at position " + strconv.Itoa(p.pos)
	}
	return false
}

// expected reports what was expected at the position, whatever is there (the end included).
func (p *jsonScan) expected(what string) bool { return p.failAt(what) }

// unexpected reports the character at the position, with no more specific message.
func (p *jsonScan) unexpected() bool {
	if p.atEnd() {
		p.msg = "Unexpected end of JSON input"
		return false
	}
	c := p.src[p.pos]
	switch {
	case c == '"':
		return p.failAt("Unexpected string")
	case c == '-' || c >= '0' && c <= '9':
		return p.failAt("Unexpected number")
	}
	src := string(utf16.Decode(p.src))
	switch src {
	case "NaN", "Infinity", "undefined", "[object Object]":
		p.msg = `"` + src + `" is not valid JSON`
		return false
	}
	tok := "Unexpected token '" + string(utf16.Decode(p.src[p.pos:p.pos+1])) + "', "
	n := len(p.src)
	switch {
	case n <= 2*jsonContext:
		p.msg = tok + `"` + src + `" is not valid JSON`
	case p.pos < jsonContext:
		p.msg = tok + `"` + string(utf16.Decode(p.src[:p.pos+jsonContext])) + `"... is not valid JSON`
	case p.pos < n-jsonContext:
		p.msg = tok + `..."` + string(utf16.Decode(p.src[p.pos-jsonContext:p.pos+jsonContext])) + `"... is not valid JSON`
	default:
		p.msg = tok + `..."` + string(utf16.Decode(p.src[p.pos-jsonContext:])) + `" is not valid JSON`
	}
	return false
}

func (p *jsonScan) value() bool {
	if p.atEnd() {
		return p.unexpected()
	}
	switch c := p.src[p.pos]; {
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return p.unexpected()
}

func (p *jsonScan) literal(word string) bool {
	for i := 0; i < len(word); i++ {
		if p.atEnd() || p.src[p.pos] != uint16(word[i]) {
			return p.unexpected()
		}
		p.pos++
	}
	return true
}

func (p *jsonScan) object() bool {
	p.pos++ // {
	p.skipWS()
	if !p.atEnd() && p.src[p.pos] == '}' {
		p.pos++
		return true
	}
	want := "Expected property name or '}'"
	for {
		if p.atEnd() || p.src[p.pos] != '"' {
			return p.expected(want)
		}
		if !p.str() {
			return false
		}
		p.skipWS()
		if p.atEnd() || p.src[p.pos] != ':' {
			if want != "Expected property name or '}'" {
				return p.unexpected() // V8 names the colon only after the first key
			}
			return p.expected("Expected ':' after property name")
		}
		p.pos++
		p.skipWS()
		if !p.value() {
			return false
		}
		p.skipWS()
		if !p.atEnd() && p.src[p.pos] == ',' {
			p.pos++
			p.skipWS()
			want = "Expected double-quoted property name"
			continue
		}
		if p.atEnd() || p.src[p.pos] != '}' {
			return p.expected("Expected ',' or '}' after property value")
		}
		p.pos++
		return true
	}
}

func (p *jsonScan) array() bool {
	p.pos++ // [
	p.skipWS()
	if !p.atEnd() && p.src[p.pos] == ']' {
		p.pos++
		return true
	}
	for {
		if !p.value() {
			return false
		}
		p.skipWS()
		if !p.atEnd() && p.src[p.pos] == ',' {
			p.pos++
			p.skipWS()
			continue
		}
		if p.atEnd() || p.src[p.pos] != ']' {
			return p.expected("Expected ',' or ']' after array element")
		}
		p.pos++
		return true
	}
}

func isHex16(c uint16) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *jsonScan) str() bool {
	p.pos++ // "
	for {
		if p.atEnd() {
			return p.failAt("Unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return true
		case c < 0x20:
			return p.failAt("Bad control character in string literal")
		case c == '\\':
			p.pos++
			if p.atEnd() {
				return p.unexpected()
			}
			switch p.src[p.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos++
			case 'u':
				for i := 1; i <= 4; i++ {
					if p.pos+i >= len(p.src) || !isHex16(p.src[p.pos+i]) {
						p.pos += i
						return p.failAt("Bad Unicode escape")
					}
				}
				p.pos += 5
			default:
				return p.failAt("Bad escaped character")
			}
		default:
			p.pos++
		}
	}
}

func (p *jsonScan) digits() int {
	n := 0
	for !p.atEnd() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func (p *jsonScan) number() bool {
	if p.src[p.pos] == '-' {
		p.pos++
		if p.atEnd() || p.src[p.pos] < '0' || p.src[p.pos] > '9' {
			return p.failAt("No number after minus sign")
		}
	}
	if p.src[p.pos] == '0' {
		p.pos++
		if !p.atEnd() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			return p.failAt("Unexpected number")
		}
	} else {
		p.digits()
	}
	if !p.atEnd() && p.src[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.failAt("Unterminated fractional number")
		}
	}
	if !p.atEnd() && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if !p.atEnd() && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.failAt("Exponent part is missing a number")
		}
	}
	return true
}
