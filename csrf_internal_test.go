package sailsio

import (
	"strings"
	"testing"
)

// TestTokenInPage reads the token from the ways pages carry it.
func TestTokenInPage(t *testing.T) {
	for _, tc := range []struct{ name, page, want string }{
		{"template", `<script type="text/javascript"> (function (){ var unescape = function(s){}; window.SAILS_LOCALS = { _environment: unescape('development'), _csrf: unescape('aB3-x_Yz'), me: unescape(null), }; })(); </script>`, "aB3-x_Yz"},
		{"dontUnescapeOnClient", `window.SAILS_LOCALS = { _csrf: 'tok&amp;1',};`, "tok&1"},
		{"double quotes and escapes", `window.SAILS_LOCALS = { _csrf: unescape("a\"b\\c\u0041\x42"),};`, `a"b\cAB`},
		{"other local first", `window.SAILS_LOCALS = { my_csrf: unescape('no'), _csrf: unescape('yes') };`, "yes"},
		{"input", `<form><input type="hidden" name="_csrf" value="in-put"></form>`, "in-put"},
		{"input value first", `<input value='v1' name='_csrf' type=hidden>`, "v1"},
		{"empty", `window.SAILS_LOCALS = { me: null };`, ""},
		{"_csrf outside SAILS_LOCALS", `var x = { _csrf: 'nope' };`, ""},
	} {
		if got := tokenInPage([]byte(tc.page)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzTokenInPage: a hostile page never panics, and a token found holds no line break.
func FuzzTokenInPage(f *testing.F) {
	f.Add(`window.SAILS_LOCALS = { _csrf: unescape('abc') }`)
	f.Add(`window.SAILS_LOCALS = { _csrf: "a\u00"`)
	f.Add(`window.SAILS_LOCALS = { _csrf: '\x4'`)
	f.Add(`<input name="_csrf" value="x">`)
	f.Fuzz(func(t *testing.T, page string) {
		tok := tokenInPage([]byte(page))
		if strings.ContainsAny(tok, "\r\n") && !strings.Contains(page, `\n`) && !strings.Contains(page, `\r`) && !strings.Contains(page, "&#") && !strings.Contains(page, "\\u") && !strings.Contains(page, "\\x") {
			t.Errorf("token %q holds a line break the page did not escape", tok)
		}
	})
}
