package cluster_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/cluster"
)

// The harness itself: both hooks' clusters start; the round-robin balancer reaches every node, the
// sticky one keeps a session cookie on one node, sessions are shared through Redis.
func TestCluster(t *testing.T) {
	for _, hook := range []string{"hook2", "hook3"} {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			c := cluster.Start(t, hook)
			client := &http.Client{Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			port := func(c *http.Client, u string) int {
				t.Helper()
				resp, err := c.Get(u + "/version")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var v struct {
					Port         int    `json:"port"`
					RedisAdapter string `json:"redisAdapter"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Port == 0 || v.RedisAdapter == "" {
					t.Fatalf("/version: %+v %v", v, err)
				}
				return v.Port
			}
			seen := map[int]int{}
			for range 4 {
				seen[port(client, c.URL)]++
			}
			if len(seen) != len(c.Nodes) {
				t.Errorf("round robin reached %v, want %d nodes", seen, len(c.Nodes))
			}
			jar, _ := cookiejar.New(nil)
			sc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			defer sc.CloseIdleConnections()
			resp, err := sc.Post(c.URL+"/login", "application/json", strings.NewReader(`{"name":"ada"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for range 4 {
				resp, err := sc.Get(c.URL + "/me")
				if err != nil {
					t.Fatal(err)
				}
				var me struct{ User string }
				json.NewDecoder(resp.Body).Decode(&me)
				resp.Body.Close()
				if me.User != "ada" {
					t.Errorf("session not shared: /me %+v", me)
				}
			}
			sticky := map[int]int{}
			for range 4 {
				sticky[port(sc, c.StickyURL)]++
			}
			if len(sticky) != 1 {
				t.Errorf("sticky balancer sent one session to %v", sticky)
			}
		})
	}
}
