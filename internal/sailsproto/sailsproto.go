// Package sailsproto holds the Sails-level protocol facts shared by the client and the
// mockserver, once: the events sails-hook-sockets turns into virtual requests, the SDK version
// check it makes on every request, and the PARSE_VIRTUAL_REQ error it answers with.
package sailsproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// verbs are the Socket.IO event names sails-hook-sockets listens to (lib/on-connect.js), each the
// lower-case HTTP verb of a virtual request.
var verbs = [...]string{"get", "post", "put", "patch", "delete", "head", "options"}

// Verbs returns the Socket.IO event names Sails turns into virtual requests: get, post, put,
// patch, delete, head and options (lower case; "GET" matches no listener).
func Verbs() []string { return append([]string(nil), verbs[:]...) }

// IsVerb reports whether event is one of Verbs.
func IsVerb(event string) bool {
	switch event {
	case "get", "post", "put", "patch", "delete", "head", "options":
		return true
	}
	return false
}

// MissingSDKVersion is the version sails-hook-sockets assumes when a handshake carries none
// (parse-sdk-metadata.js); it is below MinSDKVersion, so every request then fails.
const MissingSDKVersion = "0.9.0"

// MinSDKVersion is the lowest SDK version Sails serves (receive-incoming-sails-io-msg.js).
const MinSDKVersion = "0.11.0"

// MaxSDKVersionLength is node-semver's MAX_LENGTH: a longer version is invalid.
const MaxSDKVersionLength = 256

var (
	// ErrInvalidSDKVersion: the version is not a valid semantic version as node-semver parses it
	// strictly. Real Sails throws "TypeError: Invalid Version" on it, which crashes the server.
	ErrInvalidSDKVersion = errors.New("sailsproto: SDK version is not a valid semantic version (a real Sails server crashes on it)")
	// ErrSDKVersionTooOld: the version is valid but below MinSDKVersion once its prerelease is
	// dropped; Sails answers every request with a PARSE_VIRTUAL_REQ error.
	ErrSDKVersionTooOld = errors.New("sailsproto: SDK version is below 0.11.0, which Sails refuses")
)

// semverRE is node-semver's strict FULL regular expression (semver 7: an optional "v", then
// major.minor.patch, an optional -prerelease and +build).
var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*)?` +
	`(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER, node-semver's bound on each number.
const maxSafeInteger = 1<<53 - 1

// ValidateSDKVersion checks a version a client is about to send as __sails_io_sdk_version: nil
// when Sails will serve it; an error wrapping ErrInvalidSDKVersion when it is not a valid
// semantic version (the empty string included), or ErrSDKVersionTooOld when it is below
// 0.11.0. Prereleases are rounded off as the hook does, so "0.11.0-rc1" is accepted.
func ValidateSDKVersion(v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSDKVersion)
	}
	return CheckSDKVersion(v)
}

// CheckSDKVersion makes the check sails-hook-sockets makes on every virtual request with the
// version a handshake carried (from its headers, else its query): a missing version ("") counts
// as MissingSDKVersion; the version is trimmed and parsed as node-semver does (strict); its
// major.minor.patch must satisfy >= 0.11.0. It returns nil, or an error wrapping
// ErrSDKVersionTooOld (Sails answers a PARSE_VIRTUAL_REQ error, see VersionDetails) or
// ErrInvalidSDKVersion (Sails crashes).
func CheckSDKVersion(v string) error {
	if v == "" {
		v = MissingSDKVersion
	}
	if len(v) > MaxSDKVersionLength {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidSDKVersion, MaxSDKVersionLength)
	}
	m := semverRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return fmt.Errorf("%w: %q", ErrInvalidSDKVersion, v)
	}
	var n [3]uint64
	for i := range n {
		x, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil || x > maxSafeInteger {
			return fmt.Errorf("%w: %q has a number above 2^53-1", ErrInvalidSDKVersion, v)
		}
		n[i] = x
	}
	if n[0] == 0 && n[1] < 11 {
		return fmt.Errorf("%w: %q", ErrSDKVersionTooOld, v)
	}
	return nil
}

// ParseErrorCode is the code of the error object Sails acks instead of a JWR when it cannot parse
// a virtual request (ERRORPACK.PARSE_VIRTUAL_REQ of sails-hook-sockets).
const ParseErrorCode = "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ"

// ParseErrorStatus and ParseErrorMessage are the status and message of that error object.
const (
	ParseErrorStatus  = 400
	ParseErrorMessage = "Failed to parse incoming socket.io request."
)

// ParseErrorEvent is the event Sails emits the error object with when the request had no ack id.
const ParseErrorEvent = "sails:parseError"

// ParseError is the PARSE_VIRTUAL_REQ error object as Sails serializes it (its stack left out),
// fields in Sails' order.
type ParseError struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Status  int    `json:"status"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// NewParseError returns the PARSE_VIRTUAL_REQ error object with the given details.
func NewParseError(details string) ParseError {
	return ParseError{
		Code:    ParseErrorCode,
		Name:    "Error (" + ParseErrorCode + "):",
		Status:  ParseErrorStatus,
		Message: ParseErrorMessage,
		Details: details,
	}
}

// JSON returns the error object as JSON (without HTML escaping, as JSON.stringify writes it).
func (e ParseError) JSON() []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(e)
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// VersionDetails is the details text of the parse error a request gets when the handshake's SDK
// version v is too old ("" meaning none was sent).
func VersionDetails(v string) string {
	if v == "" {
		v = MissingSDKVersion
	}
	return "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (" + v +
		"). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."
}

// IsParseError reports whether an ack's payload is a Sails parse-error object rather than a JWR:
// an object whose "code" starts with "SAILS:HOOK:SOCKETS:" and which has no "statusCode".
func IsParseError(payload []byte) bool {
	var probe struct {
		Code       *string          `json:"code"`
		StatusCode *json.RawMessage `json:"statusCode"`
	}
	if json.Unmarshal(payload, &probe) != nil || probe.Code == nil {
		return false
	}
	return probe.StatusCode == nil && strings.HasPrefix(*probe.Code, "SAILS:HOOK:SOCKETS:")
}
