package sailsproto

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSDKVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want error
	}{
		{"1.2.1", nil},
		{"0.11.0", nil},
		{"0.11.0-rc1", nil}, // prerelease rounded off, as the hook does
		{"v1.2.1", nil},
		{" 1.2.1 ", nil},
		{"1.0.0+build.5", nil},
		{"", ErrSDKVersionTooOld}, // counts as 0.9.0
		{"0.10.5", ErrSDKVersionTooOld},
		{"0.9.0", ErrSDKVersionTooOld},
		{"banana", ErrInvalidSDKVersion},
		{"1.2", ErrInvalidSDKVersion},
		{"01.2.3", ErrInvalidSDKVersion},
		{"1.2.3-01", ErrInvalidSDKVersion},
		{"=1.2.3", ErrInvalidSDKVersion},
		{"1.2.3.4", ErrInvalidSDKVersion},
		{"9007199254740992.0.0", ErrInvalidSDKVersion},
		{"1.2.3-" + strings.Repeat("a", 260), ErrInvalidSDKVersion},
	} {
		err := CheckSDKVersion(tc.v)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckSDKVersion(%q) = %v, want %v", tc.v, err, tc.want)
		}
	}
	if err := ValidateSDKVersion(""); !errors.Is(err, ErrInvalidSDKVersion) {
		t.Errorf("ValidateSDKVersion(\"\") = %v, want ErrInvalidSDKVersion (a client must send a version)", err)
	}
	if err := ValidateSDKVersion("1.2.1"); err != nil {
		t.Errorf("ValidateSDKVersion(1.2.1) = %v", err)
	}
}

func TestVerbs(t *testing.T) {
	if got := strings.Join(Verbs(), ","); got != "get,post,put,patch,delete,head,options" {
		t.Errorf("Verbs() = %s", got)
	}
	for _, v := range Verbs() {
		if !IsVerb(v) {
			t.Errorf("IsVerb(%q) = false", v)
		}
	}
	for _, v := range []string{"GET", "Get", "connect", "message", ""} {
		if IsVerb(v) {
			t.Errorf("IsVerb(%q) = true", v)
		}
	}
	Verbs()[0] = "x"
	if Verbs()[0] != "get" {
		t.Error("Verbs returns the package's slice")
	}
}

func TestParseError(t *testing.T) {
	got := string(NewParseError(VersionDetails("")).JSON())
	want := `{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","details":"This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (0.9.0). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !IsParseError([]byte(got)) {
		t.Error("IsParseError(parse error) = false")
	}
	for _, p := range []string{`{"body":1,"statusCode":200}`, `{"code":"SAILS:HOOK:SOCKETS:X","statusCode":400}`, `{"code":"E_OTHER"}`, `[]`, `"x"`} {
		if IsParseError([]byte(p)) {
			t.Errorf("IsParseError(%s) = true", p)
		}
	}
}
