package siwe

import (
	"net/netip"
	"strings"
)

// This file holds a small validator for the RFC 3986 productions the EIP-4361
// ABNF refers to (URI, authority, scheme, pchar, reserved, unreserved). Go's
// net/url is deliberately lenient (it accepts spaces, raw Unicode, bad
// percent-escapes in places), so it cannot be used to decide whether a
// message is well formed.

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
func isSubDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=", c) >= 0
}

// gen-delims = ":" / "/" / "?" / "#" / "[" / "]" / "@"
func isGenDelim(c byte) bool {
	return strings.IndexByte(":/?#[]@", c) >= 0
}

func isReserved(c byte) bool { return isGenDelim(c) || isSubDelim(c) }

// validScheme reports whether s matches
// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validChars reports whether s consists only of bytes accepted by ok and
// well-formed percent-escapes (pct-encoded = "%" HEXDIG HEXDIG) when
// pctAllowed is set.
func validChars(s string, pctAllowed bool, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && pctAllowed {
			if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if !ok(c) {
			return false
		}
	}
	return true
}

// pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
func isPcharByte(c byte) bool {
	return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@'
}

// validPchars reports whether s is *pchar.
func validPchars(s string) bool { return validChars(s, true, isPcharByte) }

// validQuery reports whether s is *( pchar / "/" / "?" ), the production for
// both query and fragment.
func validQuery(s string) bool {
	return validChars(s, true, func(c byte) bool { return isPcharByte(c) || c == '/' || c == '?' })
}

// authority is a parsed RFC 3986 authority.
type authority struct {
	UserInfo    string
	HasUserInfo bool
	Host        string
	Port        string
	HasPort     bool
}

// parseAuthority parses authority = [ userinfo "@" ] host [ ":" port ].
func parseAuthority(s string) (authority, bool) {
	var a authority
	if i := strings.IndexByte(s, '@'); i >= 0 {
		a.UserInfo, a.HasUserInfo, s = s[:i], true, s[i+1:]
		// userinfo = *( unreserved / pct-encoded / sub-delims / ":" )
		if !validChars(a.UserInfo, true, func(c byte) bool { return isUnreserved(c) || isSubDelim(c) || c == ':' }) {
			return a, false
		}
	}
	hostEnd := len(s)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !validIPLiteral(s[1:end]) {
			return a, false
		}
		hostEnd = end + 1
		if hostEnd < len(s) && s[hostEnd] != ':' {
			return a, false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		hostEnd = i
	}
	a.Host = s[:hostEnd]
	if !strings.HasPrefix(a.Host, "[") {
		// reg-name = *( unreserved / pct-encoded / sub-delims ); IPv4address
		// is a subset of reg-name, so it needs no separate rule here.
		if !validChars(a.Host, true, func(c byte) bool { return isUnreserved(c) || isSubDelim(c) }) {
			return a, false
		}
	}
	if hostEnd < len(s) {
		// s[hostEnd] == ':'; port = *DIGIT
		a.Port, a.HasPort = s[hostEnd+1:], true
		for i := 0; i < len(a.Port); i++ {
			if !isDigit(a.Port[i]) {
				return a, false
			}
		}
	}
	return a, true
}

// validIPLiteral checks the inside of "[" ... "]": IPv6address / IPvFuture.
func validIPLiteral(s string) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
		dot := strings.IndexByte(s, '.')
		if dot < 2 || dot == len(s)-1 {
			return false
		}
		for i := 1; i < dot; i++ {
			if !isHexDigit(s[i]) {
				return false
			}
		}
		return validChars(s[dot+1:], false, func(c byte) bool { return isUnreserved(c) || isSubDelim(c) || c == ':' })
	}
	// RFC 3986 IPv6address has no zone identifier; netip accepts "%zone",
	// so exclude it before parsing.
	if strings.ContainsAny(s, "%") {
		return false
	}
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Is6()
}

// uriParts is a URI split into its RFC 3986 components.
type uriParts struct {
	Scheme       string
	HasAuthority bool
	Authority    authority
	Path         string
}

// parseURI validates s against
//
//	URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]
//
// and returns its components.
func parseURI(s string) (uriParts, bool) {
	var u uriParts
	colon := strings.IndexByte(s, ':')
	if colon < 0 || !validScheme(s[:colon]) {
		return u, false
	}
	u.Scheme, s = s[:colon], s[colon+1:]
	if i := strings.IndexByte(s, '#'); i >= 0 {
		if !validQuery(s[i+1:]) {
			return u, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		if !validQuery(s[i+1:]) {
			return u, false
		}
		s = s[:i]
	}
	// hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty
	if strings.HasPrefix(s, "//") {
		s = s[2:]
		end := strings.IndexByte(s, '/')
		if end < 0 {
			end = len(s)
		}
		a, ok := parseAuthority(s[:end])
		if !ok {
			return u, false
		}
		u.HasAuthority, u.Authority, u.Path = true, a, s[end:]
		return u, validPath(u.Path)
	}
	u.Path = s
	// path-absolute must not begin with "//" (handled above); path-rootless
	// and path-empty are covered by the segment check.
	return u, validPath(u.Path)
}

// validPath checks that every "/"-separated segment is *pchar.
func validPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if !validPchars(seg) {
			return false
		}
	}
	return true
}

// validURI reports whether s is an RFC 3986 URI.
func validURI(s string) bool {
	_, ok := parseURI(s)
	return ok
}
