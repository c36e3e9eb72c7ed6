package sailsio

import (
	"strings"
	"testing"
)

// BenchmarkNewRequest encodes requests (newRequest: method, headers, Data, URL into the frame).
// The large case is what body.go is about: go test -run '^$' -bench 'NewRequest/large' -memprofile
// mem.pprof, then go tool pprof -sample_index=alloc_space -top.
func BenchmarkNewRequest(b *testing.B) {
	type user struct {
		Name  string   `json:"name"`
		Email string   `json:"email,omitempty"`
		Age   int      `json:"age"`
		Tags  []string `json:"tags"`
	}
	for _, c := range []struct {
		name string
		data any
	}{
		{"nil", nil},
		{"map", map[string]any{"name": "Ann", "age": 31, "admin": false, "tags": []any{"a", "b"}}},
		{"struct", &user{Name: "Ann", Email: "ann@example.com", Age: 31, Tags: []string{"a", "b"}}},
		{"large-8MB", map[string]any{"blob": strings.Repeat("x", 8<<20)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New("http://h")
			if err != nil {
				b.Fatal(err)
			}
			opts := RequestOptions{Method: "post", URL: "/user", Data: c.data}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.newRequest(opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
