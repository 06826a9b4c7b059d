package siwe

import (
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// MaxMessageLength is the largest message, in bytes, that [Parse] and
// [Verifier.Verify] look at. Real sign-in messages are a few hundred bytes;
// the cap bounds the work an anonymous client can cause.
const MaxMessageLength = 4096

// MinNonceLength is the minimum nonce length required by EIP-4361.
const MinNonceLength = 8

const (
	headerSuffix   = " wants you to sign in with your Ethereum account:"
	prefixURI      = "URI: "
	prefixVersion  = "Version: "
	prefixChainID  = "Chain ID: "
	prefixNonce    = "Nonce: "
	prefixIssued   = "Issued At: "
	prefixExpires  = "Expiration Time: "
	prefixNotBef   = "Not Before: "
	prefixRequest  = "Request ID: "
	lineResources  = "Resources:"
	prefixResource = "- "
)

// Message is a parsed EIP-4361 Sign-In with Ethereum message.
//
// The zero value of an optional field means the line is absent: Scheme ""
// omits the scheme prefix, HasStatement false omits the statement (a present
// but empty statement is HasStatement true with Statement ""), nil pointers
// omit their lines, and nil Resources omits the "Resources:" section while a
// non-nil empty slice writes the header with no items.
type Message struct {
	Scheme         string
	Domain         string
	Address        common.Address
	Statement      string
	HasStatement   bool
	URI            string
	Version        string
	ChainID        uint64
	Nonce          string
	IssuedAt       time.Time
	ExpirationTime *time.Time
	NotBefore      *time.Time
	RequestID      *string
	Resources      []string
}

// Parse parses s strictly according to the EIP-4361 ABNF:
//
//   - the length cap ([MaxMessageLength]) is checked before anything else;
//   - lines are separated by a single LF, with no trailing LF, no CR and no
//     lines other than those the ABNF allows, in its order;
//   - the address must be in EIP-55 mixed-case checksum form;
//   - timestamps are RFC 3339 date-times (leap seconds are rejected);
//   - the nonce is at least 8 ASCII letters or digits;
//   - the version is "1";
//   - URI, resources, domain, scheme, statement and request ID follow their
//     RFC 3986 productions.
//
// Every failure is an [*Error] with code message_too_long or
// malformed_message. Parse never panics.
func Parse(s string) (*Message, error) {
	if len(s) > MaxMessageLength {
		return nil, newError(CodeMessageTooLong, "The sign-in message is longer than %d bytes.", MaxMessageLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' {
			continue
		}
		if c < 0x20 || c > 0x7e {
			return nil, malformed("it contains a character that is not printable ASCII (byte %d)", i)
		}
	}
	lines := strings.Split(s, "\n")
	p := &lineParser{lines: lines}
	m := &Message{}

	// [ scheme "://" ] domain %s" wants you to sign in with your Ethereum account:"
	header, ok := p.next()
	if !ok {
		return nil, malformed("the message is empty")
	}
	origin, found := strings.CutSuffix(header, headerSuffix)
	if !found {
		return nil, malformed("the first line must end with %q", headerSuffix)
	}
	if scheme, domain, hasScheme := strings.Cut(origin, "://"); hasScheme {
		if !validScheme(scheme) {
			return nil, malformed("the scheme %q on the first line is not a valid URI scheme", scheme)
		}
		m.Scheme, origin = scheme, domain
	}
	if err := checkDomain(origin); err != nil {
		return nil, err
	}
	m.Domain = origin

	// address LF
	addr, ok := p.next()
	if !ok {
		return nil, malformed("the address line is missing")
	}
	a, err := parseAddress(addr)
	if err != nil {
		return nil, err
	}
	m.Address = a

	// LF [ statement LF ] LF
	if blank, ok := p.next(); !ok || blank != "" {
		return nil, malformed("an empty line must follow the address")
	}
	line, ok := p.next()
	if !ok {
		return nil, malformed("the message ends after the address")
	}
	if line != "" || p.peekIs("") {
		// A statement is present (possibly empty, in which case the next
		// line is the blank separator).
		if strings.HasPrefix(line, prefixURI) && !p.peekIs("") {
			return nil, malformed("two empty lines must separate the address and the URI line when there is no statement")
		}
		if !validStatement(line) {
			return nil, malformed("the statement may contain only RFC 3986 reserved or unreserved characters and spaces")
		}
		m.Statement, m.HasStatement = line, true
		if blank, ok := p.next(); !ok || blank != "" {
			return nil, malformed("an empty line must follow the statement")
		}
	}

	// %s"URI: " uri LF
	v, err := p.field(prefixURI, "URI")
	if err != nil {
		return nil, err
	}
	if !validURI(v) {
		return nil, malformed("the URI is not a valid RFC 3986 URI")
	}
	m.URI = v

	// %s"Version: " version LF
	if m.Version, err = p.field(prefixVersion, "Version"); err != nil {
		return nil, err
	}
	if m.Version != "1" {
		return nil, malformed("the version must be 1")
	}

	// %s"Chain ID: " chain-id LF
	v, err = p.field(prefixChainID, "Chain ID")
	if err != nil {
		return nil, err
	}
	if m.ChainID, err = parseChainID(v); err != nil {
		return nil, err
	}

	// %s"Nonce: " nonce LF
	if m.Nonce, err = p.field(prefixNonce, "Nonce"); err != nil {
		return nil, err
	}
	if !validNonce(m.Nonce) {
		return nil, malformed("the nonce must be at least %d letters or digits", MinNonceLength)
	}

	// %s"Issued At: " issued-at
	v, err = p.field(prefixIssued, "Issued At")
	if err != nil {
		return nil, err
	}
	if m.IssuedAt, err = parseTimestamp(v, "Issued At"); err != nil {
		return nil, err
	}

	// [ LF %s"Expiration Time: " expiration-time ]
	if v, ok := p.optional(prefixExpires); ok {
		t, err := parseTimestamp(v, "Expiration Time")
		if err != nil {
			return nil, err
		}
		m.ExpirationTime = &t
	}
	// [ LF %s"Not Before: " not-before ]
	if v, ok := p.optional(prefixNotBef); ok {
		t, err := parseTimestamp(v, "Not Before")
		if err != nil {
			return nil, err
		}
		m.NotBefore = &t
	}
	// [ LF %s"Request ID: " request-id ]
	if v, ok := p.optional(prefixRequest); ok {
		if !validPchars(v) {
			return nil, malformed("the request ID may contain only RFC 3986 pchar characters")
		}
		m.RequestID = &v
	}
	// [ LF %s"Resources:" resources ]   resources = *( LF resource )
	if p.peekIs(lineResources) {
		p.next()
		m.Resources = []string{}
		for p.more() {
			line, _ := p.next()
			r, ok := strings.CutPrefix(line, prefixResource)
			if !ok {
				return nil, malformed("line %d: each resource must be written as \"- \" followed by a URI", p.pos)
			}
			if !validURI(r) {
				return nil, malformed("line %d: the resource is not a valid RFC 3986 URI", p.pos)
			}
			m.Resources = append(m.Resources, r)
		}
	}
	if p.more() {
		return nil, unexpectedLine(p)
	}
	return m, nil
}

func unexpectedLine(p *lineParser) *Error {
	line := p.lines[p.pos]
	if line == "" {
		return malformed("line %d is empty where no more lines were expected (a trailing newline is not allowed)", p.pos+1)
	}
	known := []string{prefixExpires, prefixNotBef, prefixRequest, lineResources}
	for _, k := range known {
		if strings.HasPrefix(line, k) {
			return malformed("line %d (%q) is out of order or repeated; optional fields must appear as Expiration Time, Not Before, Request ID, Resources", p.pos+1, strings.TrimSpace(k))
		}
	}
	return malformed("line %d is not part of the EIP-4361 format", p.pos+1)
}

// lineParser walks the message lines in order.
type lineParser struct {
	lines []string
	pos   int
}

func (p *lineParser) more() bool { return p.pos < len(p.lines) }

func (p *lineParser) next() (string, bool) {
	if !p.more() {
		return "", false
	}
	p.pos++
	return p.lines[p.pos-1], true
}

func (p *lineParser) peekIs(s string) bool { return p.more() && p.lines[p.pos] == s }

// field consumes a required "Prefix: value" line.
func (p *lineParser) field(prefix, name string) (string, error) {
	line, ok := p.next()
	if !ok {
		return "", malformed("the %q line is missing", name)
	}
	v, found := strings.CutPrefix(line, prefix)
	if !found {
		return "", malformed("line %d must start with %q", p.pos, prefix)
	}
	return v, nil
}

// optional consumes a "Prefix: value" line if it is next.
func (p *lineParser) optional(prefix string) (string, bool) {
	if !p.more() || !strings.HasPrefix(p.lines[p.pos], prefix) {
		return "", false
	}
	line, _ := p.next()
	return line[len(prefix):], true
}

func checkDomain(d string) error {
	a, ok := parseAuthority(d)
	if !ok {
		return malformed("the domain %q is not a valid RFC 3986 authority", d)
	}
	// The ABNF lets reg-name be empty, but a message without a host cannot
	// be bound to any site.
	if a.Host == "" {
		return malformed("the domain has no host")
	}
	return nil
}

// parseAddress accepts only the EIP-55 checksummed form, so that a typo or a
// mangled address is caught before the signature is checked.
func parseAddress(s string) (common.Address, error) {
	if len(s) != 42 || s[0] != '0' || s[1] != 'x' {
		return common.Address{}, malformed("the address must be 0x followed by 40 hexadecimal digits")
	}
	for i := 2; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return common.Address{}, malformed("the address must be 0x followed by 40 hexadecimal digits")
		}
	}
	a := common.HexToAddress(s)
	if a.Hex() != s {
		return common.Address{}, malformed("the address is not in EIP-55 checksum form (expected %s)", a.Hex())
	}
	return a, nil
}

// statement = *( reserved / unreserved / " " )
func validStatement(s string) bool {
	return validChars(s, false, func(c byte) bool { return isReserved(c) || isUnreserved(c) || c == ' ' })
}

func validNonce(s string) bool {
	if len(s) < MinNonceLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseChainID accepts chain-id = 1*DIGIT that fits in a uint64.
func parseChainID(s string) (uint64, error) {
	if s == "" {
		return 0, malformed("the chain ID is empty")
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, malformed("the chain ID must be a decimal number")
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, malformed("the chain ID is too large")
	}
	return id, nil
}

// parseTimestamp checks the RFC 3339 date-time production by hand, because
// time.Parse accepts forms RFC 3339 does not (and the reverse for lowercase
// "t"/"z"), then lets the time package check the calendar.
//
//	date-time = full-date "T" full-time
//	full-date = 4DIGIT "-" 2DIGIT "-" 2DIGIT
//	full-time = 2DIGIT ":" 2DIGIT ":" 2DIGIT [ "." 1*DIGIT ] ( "Z" / ( "+" / "-" ) 2DIGIT ":" 2DIGIT )
func parseTimestamp(s, name string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, malformed("%s must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z", name)
	}
	digits := func(i, n int) bool {
		if i+n > len(s) {
			return false
		}
		for j := i; j < i+n; j++ {
			if !isDigit(s[j]) {
				return false
			}
		}
		return true
	}
	if len(s) < 20 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
		(s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2) {
		return bad()
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 {
			return bad()
		}
		i = j
	}
	switch {
	case i < len(s) && (s[i] == 'Z' || s[i] == 'z'):
		i++
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		if !digits(i+1, 2) || i+3 >= len(s) || s[i+3] != ':' || !digits(i+4, 2) {
			return bad()
		}
		// time-numoffset hours are 00-23 and minutes 00-59; time.Parse
		// lets +24:00 through.
		if s[i+1:i+3] > "23" || s[i+4:i+6] > "59" {
			return bad()
		}
		i += 6
	default:
		return bad()
	}
	if i != len(s) {
		return bad()
	}
	// Fractions longer than nanoseconds are valid RFC 3339 but beyond what
	// time.Time holds; truncate them rather than reject the message.
	norm := strings.ToUpper(s)
	if dot := strings.IndexByte(norm, '.'); dot >= 0 {
		end := dot + 1
		for end < len(norm) && isDigit(norm[end]) {
			end++
		}
		if end-dot-1 > 9 {
			norm = norm[:dot+10] + norm[end:]
		}
	}
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return bad()
	}
	return t, nil
}

// String returns the canonical EIP-4361 text of m: the exact text a wallet
// shows and signs. Timestamps are written with time.RFC3339Nano in their own
// offset, so a message parsed from text with, say, ".000" fractions renders
// differently from its source; signatures are always checked against the
// original text, never against String.
func (m *Message) String() string {
	var b strings.Builder
	if m.Scheme != "" {
		b.WriteString(m.Scheme)
		b.WriteString("://")
	}
	b.WriteString(m.Domain)
	b.WriteString(headerSuffix)
	b.WriteByte('\n')
	b.WriteString(m.Address.Hex())
	b.WriteString("\n\n")
	if m.HasStatement {
		b.WriteString(m.Statement)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	writeField(&b, prefixURI, m.URI)
	writeField(&b, prefixVersion, m.Version)
	writeField(&b, prefixChainID, strconv.FormatUint(m.ChainID, 10))
	writeField(&b, prefixNonce, m.Nonce)
	b.WriteString(prefixIssued)
	b.WriteString(formatTime(m.IssuedAt))
	if m.ExpirationTime != nil {
		b.WriteByte('\n')
		b.WriteString(prefixExpires)
		b.WriteString(formatTime(*m.ExpirationTime))
	}
	if m.NotBefore != nil {
		b.WriteByte('\n')
		b.WriteString(prefixNotBef)
		b.WriteString(formatTime(*m.NotBefore))
	}
	if m.RequestID != nil {
		b.WriteByte('\n')
		b.WriteString(prefixRequest)
		b.WriteString(*m.RequestID)
	}
	if m.Resources != nil {
		b.WriteByte('\n')
		b.WriteString(lineResources)
		for _, r := range m.Resources {
			b.WriteByte('\n')
			b.WriteString(prefixResource)
			b.WriteString(r)
		}
	}
	return b.String()
}

func writeField(b *strings.Builder, prefix, value string) {
	b.WriteString(prefix)
	b.WriteString(value)
	b.WriteByte('\n')
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339Nano) }
