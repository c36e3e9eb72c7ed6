package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// scenario is a load run: from flags, or from a YAML/JSON file (--scenario) with the same fields.
//
//	sockets: 1000          # sockets to open
//	rate: 200              # arrivals per second (0: as fast as --concurrency allows)
//	ramp: 10s              # the arrival rate grows linearly from 0 to rate over ramp
//	duration: 1m           # how long to hold every socket once all arrived
//	think: 1s              # pause of each socket between two requests
//	headers: {authorization: "Bearer T"}
//	vars:                  # per-socket variables: socket i takes value i mod len
//	  room: [red, green, blue]
//	subscribe: ["POST /rooms/{{room}}/join"]
//	requests:
//	  - {weight: 3, request: "GET /echo?s={{socket}}"}
//	  - {weight: 1, request: "POST /rooms/{{room}}/say {\"text\":\"{{stamp}}\"}"}
//	events: [chat]
//	fanout: chat           # fan-out latency: from the request whose body holds {{stamp}} to this event elsewhere
type scenario struct {
	Sockets     int                 `yaml:"sockets"`
	Rate        float64             `yaml:"rate"`
	Ramp        time.Duration       `yaml:"ramp"`
	Duration    time.Duration       `yaml:"duration"`
	Think       time.Duration       `yaml:"think"`
	Headers     map[string]string   `yaml:"headers"`
	Vars        map[string][]string `yaml:"vars"`
	Subscribe   []string            `yaml:"subscribe"`
	Requests    []weightedRequest   `yaml:"requests"`
	Events      []string            `yaml:"events"`
	Fanout      string              `yaml:"fanout"`
	Concurrency int                 `yaml:"concurrency"`
}

// weightedRequest is one entry of the request mix: "VERB /path [JSON]" with a weight.
type weightedRequest struct {
	Weight  int               `yaml:"weight"`
	Request string            `yaml:"request"`
	Headers map[string]string `yaml:"headers"`

	verb, path, body string // parsed
}

func loadScenario(path string, sc *scenario) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(sc); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// parseWeighted parses a --request flag: "[WEIGHT:]VERB /path [JSON]".
func parseWeighted(s string) weightedRequest {
	w := weightedRequest{Weight: 1, Request: s}
	if i := strings.Index(s, ":"); i > 0 {
		if n, err := strconv.Atoi(s[:i]); err == nil {
			w.Weight, w.Request = n, strings.TrimSpace(s[i+1:])
		}
	}
	return w
}

// validate checks the scenario and parses its requests.
func (sc *scenario) validate() error {
	if sc.Sockets < 1 {
		return fmt.Errorf("sockets: want at least 1, got %d", sc.Sockets)
	}
	if sc.Rate < 0 || sc.Ramp < 0 || sc.Duration < 0 || sc.Think < 0 {
		return fmt.Errorf("rate, ramp, duration and think must not be negative")
	}
	if sc.Concurrency <= 0 {
		sc.Concurrency = 256
	}
	for i := range sc.Requests {
		r := &sc.Requests[i]
		if r.Weight <= 0 {
			return fmt.Errorf("request %q: weight must be positive", r.Request)
		}
		s := strings.TrimSpace(r.Request)
		verb, rest, _ := strings.Cut(s, " ")
		rest = strings.TrimSpace(rest)
		p, body, _ := strings.Cut(rest, " ")
		r.verb, r.path, r.body = strings.ToLower(verb), p, strings.TrimSpace(body)
		if _, err := parseRequestLine(expandVars(s, func(string) string { return "0" })); err != nil {
			return fmt.Errorf("request %q: %v", r.Request, err)
		}
	}
	for _, s := range sc.Subscribe {
		if _, err := parseRequestLine(expandVars(s, func(string) string { return "0" })); err != nil {
			return fmt.Errorf("subscribe %q: %v", s, err)
		}
	}
	for k, v := range sc.Vars {
		if len(v) == 0 {
			return fmt.Errorf("vars.%s: no values", k)
		}
	}
	var templates []string
	templates = append(templates, sc.Subscribe...)
	for _, r := range sc.Requests {
		templates = append(templates, r.Request)
		for _, v := range r.Headers {
			templates = append(templates, v)
		}
	}
	for _, v := range sc.Headers {
		templates = append(templates, v)
	}
	for _, t := range templates {
		var unknown string
		expandVars(t, func(name string) string {
			if _, ok := sc.Vars[name]; !ok && !builtinVars[name] && unknown == "" {
				unknown = name
			}
			return ""
		})
		if unknown != "" {
			return fmt.Errorf("%q: unknown variable {{%s}} (built in: socket, sid, n, rand, stamp; or declare it in vars)", t, unknown)
		}
	}
	return nil
}

// builtinVars are the variables every socket has.
var builtinVars = map[string]bool{"socket": true, "sid": true, "n": true, "rand": true, "stamp": true}

// expandVars replaces every {{name}} in s with value(name).
func expandVars(s string, value func(string) string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(value(strings.TrimSpace(s[i+2 : i+j])))
		s = s[i+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// arrivalsBy returns how many sockets should have arrived t after the start: a linear ramp of the
// rate from 0 to rate over ramp, then the constant rate (rate 0: all at once, ramp alone: spread evenly).
func (sc *scenario) arrivalsBy(t time.Duration) int {
	n := float64(sc.Sockets)
	secs := t.Seconds()
	var got float64
	switch {
	case sc.Rate <= 0 && sc.Ramp <= 0:
		return sc.Sockets
	case sc.Rate <= 0:
		got = n * secs / sc.Ramp.Seconds()
	case sc.Ramp <= 0:
		got = sc.Rate * secs
	default:
		r := sc.Ramp.Seconds()
		if secs <= r {
			got = sc.Rate * secs * secs / (2 * r)
		} else {
			got = sc.Rate*r/2 + sc.Rate*(secs-r)
		}
	}
	if got > n {
		return sc.Sockets
	}
	return int(got)
}
