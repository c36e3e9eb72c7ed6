package mockserver

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// The criteria of the find blueprint (Sails' parseBlueprintOptions and Waterline's criteria
// normalization), for the in-memory Model.

type criteria struct {
	where whereClause
	limit int
	skip  int
	sort  []sortKey
	sel   map[string]bool // select (with the primary key); nil: every attribute
	omit  map[string]bool
}

type sortKey struct {
	attr string
	desc bool
}

// whereClause is a where object: every key must match (and, or combine clauses).
type whereClause struct {
	and []whereClause
	or  []whereClause
	on  []constraint
}

type constraint struct {
	attr string
	mods []modifier // all must hold
}

type modifier struct {
	op  string // "eq", "in", "nin", "<", "<=", ">", ">=", "!=", "contains", "startsWith", "endsWith", "like"
	val json.RawMessage
}

const defaultLimit = 30

func invalidCriteria(details string) *usageError {
	return &usageError{Code: "E_INVALID_CRITERIA", Details: details}
}

// parseCriteria builds the criteria of a find request from its parameters, checking them in
// Waterline's order: where, limit, skip, sort, select, omit.
func (m *Model) parseCriteria(params *jsObject) (*criteria, *usageError) {
	q := &criteria{limit: defaultLimit}
	whereObj, err := m.whereParam(params)
	if err != nil {
		return nil, err
	}
	w, err := m.parseWhere(whereObj)
	if err != nil {
		return nil, err
	}
	q.where = w
	if s, ok := paramString(params, "limit"); ok {
		n, valid := naturalNumber(s)
		if !valid {
			return nil, invalidCriteria("The `limit` clause in the provided criteria is invalid.  If provided, it should be a safe, natural number.  But instead, got: " + jsNumberText(s))
		}
		q.limit = n
	}
	if s, ok := paramString(params, "skip"); ok {
		n, valid := naturalNumber(s)
		if !valid && strings.TrimSpace(s) != "0" {
			return nil, invalidCriteria("The `skip` clause in the provided criteria is invalid.  If provided, it should be either zero (0), or a safe, natural number (e.g. 4).  But instead, got: " + jsNumberText(s))
		}
		q.skip = n
	}
	if raw, ok := params.get("sort"); ok {
		keys, err := parseSort(raw)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if m.cfg.schema && !m.declared(k.attr) {
				return nil, invalidCriteria("Could not use the provided `sort` clause: The `sort` clause in the provided criteria is invalid, " +
					"because, although it is an array, one of its items (aka comparator directives) is problematic.  It indicates that we should sort by `" +
					k.attr + "`-- but that is not a recognized attribute for this model (`" + m.identity + "`).  Since the model declares `schema: true`, this is not allowed.")
			}
		}
		q.sort = keys
	}
	if err := m.parseProjection(params, q); err != nil {
		return nil, err
	}
	return q, nil
}

// whereParam returns the where object of a find request as the blueprints build it
// (parseBlueprintOptions): the `where` parameter (text is parsed as JSON; text that is not JSON
// makes the blueprint throw, see usageError.thrown), or, when it is missing or falsy, every other
// parameter but limit, skip, sort, populate, select and omit. A number, a string or an array is
// Waterline's shorthand for the primary key.
func (m *Model) whereParam(params *jsObject) (*jsObject, *usageError) {
	raw, ok := params.get("where")
	if ok && wire.FirstByte(raw) == '"' {
		text := decodeString(raw)
		if msg := jsSyntaxError(text); msg != "" {
			return nil, &usageError{Code: "E_INVALID_CRITERIA", Details: "Could not JSON.parse() the provided `where` clause. Here is the raw error: SyntaxError: " + msg, thrown: true}
		}
		raw = json.RawMessage(text)
	}
	if !ok || jsFalsy(raw) {
		o := params.clone()
		for _, k := range []string{"limit", "skip", "sort", "populate", "select", "omit"} {
			o.del(k)
		}
		return o, nil
	}
	switch c := wire.FirstByte(raw); {
	case c == '{':
		return parseJSObject(raw), nil
	case c == '"' || c == '[' || c == '-' || c >= '0' && c <= '9':
		o := newJSObject()
		o.set("id", raw)
		return o, nil
	}
	return nil, invalidCriteria("Could not use the provided `where` clause.  If provided, `where` clause should be a dictionary.  But instead, got: " + formatS(raw))
}

// jsFalsy reports whether a JSON value is falsy in JavaScript: null, false, 0 or "".
func jsFalsy(v json.RawMessage) bool {
	switch c := wire.FirstByte(v); {
	case c == 'n' || c == 'f' || c == 0:
		return true
	case c == '"':
		return decodeString(v) == ""
	case c == '-' || c >= '0' && c <= '9':
		f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
		return err == nil && f == 0
	}
	return false
}

// parseProjection reads the select and omit parameters (find and findOne) into q, as
// parseBlueprintOptions splits them on commas and Waterline checks them: a schema: false model
// refuses both; select (which always keeps the primary key) wins over omit.
func (m *Model) parseProjection(params *jsObject, q *criteria) *usageError {
	list := func(k string) ([]string, bool) {
		s, ok := paramString(params, k)
		if !ok {
			return nil, false
		}
		var out []string
		for _, a := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(a))
		}
		return out, true
	}
	if sel, ok := list("select"); ok {
		if len(sel) == 1 && sel[0] == "*" {
			return nil
		}
		if !m.cfg.schema {
			return invalidCriteria("The provided criteria contains a custom `select` clause, but since this model (`" + m.identity + "`) " +
				"is `schema: false`, this cannot be relied upon... yet.  In the mean time, if you'd like to use a " +
				"custom `select`, configure this model to `schema: true`. Or, better yet, since this is usually an app-wide setting," +
				"configure all of your models to have `schema: true` -- e.g. in `config/models.js`.  (Note that this WILL be supported in a " +
				"future, minor version release of Sails/Waterline.  Want to lend a hand?  http://sailsjs.com/contribute)")
		}
		q.sel = map[string]bool{"id": true}
		for _, a := range sel {
			if !m.declared(a) {
				return invalidCriteria("The `select` clause in the provided criteria contains an item (`" + a + "`) which is not a recognized attribute in this model (`" + m.identity + "`).")
			}
			if m.cfg.coll(a) != nil {
				return invalidCriteria("The `select` clause in the provided criteria contains an item (`" + a + "`) which is actually " +
					"the name of a plural (\"collection\") association for this model (`" + m.identity + "`).  But you cannot " +
					"explicitly select plural association because they're virtual attributes (use `.populate()` instead.)")
			}
			q.sel[a] = true
		}
		return nil
	}
	if omit, ok := list("omit"); ok {
		for _, a := range omit {
			if a == "id" {
				return invalidCriteria("The `omit` clause in the provided criteria explicitly attempts to omit the primary key (`id`).  But in the current version of Waterline, this is not possible.")
			}
			if !m.cfg.schema {
				return invalidCriteria("Cannot use `omit`, because the referenced model (`" + m.identity + "`) does not declare itself `schema: true`.")
			}
			if !m.declared(a) {
				return invalidCriteria("The `omit` clause in the provided criteria contains an item (`" + a + "`) which is not a recognized attribute in this model (`" + m.identity + "`).")
			}
			if m.cfg.coll(a) == nil { // Waterline forgets a collection given to omit
				if q.omit == nil {
					q.omit = map[string]bool{}
				}
				q.omit[a] = true
			}
		}
	}
	return nil
}

// project applies the select or omit of q to a record being output.
func (q *criteria) project(out *jsObject) *jsObject {
	if q == nil || q.sel == nil && q.omit == nil {
		return out
	}
	for _, k := range out.order() {
		if q.sel != nil && !q.sel[k] || q.omit[k] {
			out.del(k)
		}
	}
	return out
}

// naturalNumber parses s as Number(s) and reports whether it is a safe natural number (0 is
// accepted too, as a limit of 0 is).
func naturalNumber(s string) (int, bool) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if s == "" {
		f, err = 0, nil
	}
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false
	}
	if f > math.MaxInt32 {
		return math.MaxInt32, true
	}
	return int(f), true
}

// jsNumberText is how Waterline prints Number(s) in its messages.
func jsNumberText(s string) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return "NaN"
	}
	return jsNumberString(f)
}

// parseSort accepts "attr ASC, other DESC", a JSON array of {attr: "ASC"|"DESC"} (as text or
// as JSON), or an array of "attr DIR" strings.
func parseSort(raw json.RawMessage) ([]sortKey, *usageError) {
	if wire.FirstByte(raw) == '"' {
		s := decodeString(raw)
		var v json.RawMessage
		if json.Unmarshal([]byte(s), &v) == nil && (wire.FirstByte(v) == '[' || wire.FirstByte(v) == '{') {
			raw = v
		} else {
			return parseSortString(s)
		}
	}
	if wire.FirstByte(raw) == '{' {
		return nil, invalidCriteria("Could not use the provided `sort` clause: The `sort` clause in the provided criteria is invalid.  " +
			"If specified, it should be either a string like `'fullName DESC'`, or an array like `[ { fullName: 'DESC' } ]`.  " +
			"But it looks like you might need to wrap this in an array, because instead, got: " + formatS(raw))
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, invalidCriteria("Could not use the provided `sort` clause.")
	}
	var keys []sortKey
	for _, it := range items {
		if wire.FirstByte(it) == '"' {
			k, err := parseSortString(decodeString(it))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k...)
			continue
		}
		o := parseJSObject(it)
		if o == nil || len(o.keys) != 1 {
			return nil, invalidCriteria("Could not use the provided `sort` clause.")
		}
		dir, _ := paramString(o, o.keys[0])
		k, err := sortDirection(o.keys[0], dir)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parseSortString(s string) ([]sortKey, *usageError) {
	var keys []sortKey
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		switch len(f) {
		case 1:
			keys = append(keys, sortKey{attr: f[0]})
		case 2:
			k, err := sortDirection(f[0], f[1])
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		default:
			return nil, invalidCriteria("Could not use the provided `sort` clause.")
		}
	}
	return keys, nil
}

func sortDirection(attr, dir string) (sortKey, *usageError) {
	switch strings.ToUpper(dir) {
	case "ASC":
		return sortKey{attr: attr}, nil
	case "DESC":
		return sortKey{attr: attr, desc: true}, nil
	}
	return sortKey{}, invalidCriteria("Could not use the provided `sort` clause: The `sort` clause in the provided criteria is invalid, " +
		"because, although it is an array, one of its items (aka comparator directives) is problematic.  It indicates that we should sort by `" +
		attr + "`, which is fine.  But then it suggests that Waterline should use `" + dir + "` as the sort direction. (Should always be either \"ASC\" or \"DESC\".)")
}

// less orders two records by the sort keys (then by id).
func (q *criteria) less(a, b *jsObject) bool {
	for _, k := range q.sort {
		c := compareJSON(a.vals[k.attr], b.vals[k.attr])
		if c == 0 {
			continue
		}
		if k.desc {
			return c > 0
		}
		return c < 0
	}
	return false
}

var whereOps = map[string]bool{
	"<": true, "<=": true, ">": true, ">=": true, "!=": true, "nin": true, "in": true,
	"contains": true, "startsWith": true, "endsWith": true, "like": true,
}

func (m *Model) parseWhere(o *jsObject) (whereClause, *usageError) {
	var w whereClause
	for _, k := range o.order() {
		v := o.vals[k]
		if k == "and" || k == "or" {
			var items []json.RawMessage
			if json.Unmarshal(v, &items) != nil || wire.FirstByte(v) != '[' {
				return w, invalidCriteria("Could not use the provided `where` clause.  Expected `" + k + "` to be an array.")
			}
			for _, it := range items {
				sub := parseJSObject(it)
				if sub == nil {
					return w, invalidCriteria("Could not use the provided `where` clause.  Expected every item of `" + k + "` to be a dictionary.")
				}
				sw, err := m.parseWhere(sub)
				if err != nil {
					return w, err
				}
				if k == "and" {
					w.and = append(w.and, sw)
				} else {
					w.or = append(w.or, sw)
				}
			}
			if k == "or" && len(items) == 0 {
				w.or = []whereClause{{on: []constraint{{attr: "id", mods: []modifier{{op: "in", val: json.RawMessage("[]")}}}}}}
			}
			continue
		}
		if m.cfg.schema && !m.declared(k) {
			return w, invalidCriteria("Could not use the provided `where` clause.  Could not filter by `" + k + "`: `" + k + "` is not a recognized attribute for this model (`" +
				m.identity + "`).  And since the model declares `schema: true`, this is not allowed.")
		}
		c := constraint{attr: k}
		switch wire.FirstByte(v) {
		case '[':
			c.mods = []modifier{{op: "in", val: v}}
		case '{':
			mods := parseJSObject(v)
			for _, op := range mods.order() {
				if !whereOps[op] {
					return w, invalidCriteria("Could not use the provided `where` clause.  Could not filter by `" + k + "`: Unrecognized modifier (`" + op + "`) within provided constraint for `" + k + "`.")
				}
				c.mods = append(c.mods, modifier{op: op, val: mods.vals[op]})
			}
		default:
			c.mods = []modifier{{op: "eq", val: v}}
		}
		for i := range c.mods {
			if err := m.normalizeModifier(k, &c.mods[i]); err != nil {
				return w, err
			}
		}
		w.on = append(w.on, c)
	}
	return w, nil
}

// normalizeModifier coerces a constraint's values to the attribute's type, as Waterline does.
func (m *Model) normalizeModifier(attr string, md *modifier) *usageError {
	var a *attribute
	switch attr {
	case "id", "createdAt", "updatedAt":
		a = &attribute{name: attr, typ: "number"}
	default:
		a = m.cfg.attr(attr)
	}
	if a == nil || md.op == "contains" || md.op == "startsWith" || md.op == "endsWith" || md.op == "like" {
		return nil
	}
	one := func(v json.RawMessage) (json.RawMessage, *usageError) {
		if wire.FirstByte(v) == 'n' {
			return v, nil
		}
		cv, ok := coerce(a, v)
		if !ok {
			what := "a string: " + formatS(v)
			if wire.FirstByte(v) == '"' {
				what = "a string: " + jsQuote(decodeString(v))
			} else if wire.FirstByte(v) != '"' {
				what = formatS(v)
			}
			return nil, invalidCriteria("Could not use the provided `where` clause.  Could not filter by `" + attr + "`: " +
				"Does not match the declared data type of the corresponding attribute.  1 error validating value: \n" +
				" • Specified value (" + what + ") doesn't match the expected type: '" + a.typ + "'")
		}
		return cv, nil
	}
	if md.op == "in" || md.op == "nin" {
		var items []json.RawMessage
		if json.Unmarshal(md.val, &items) != nil {
			return invalidCriteria("Could not use the provided `where` clause.  Could not filter by `" + attr + "`: expected an array.")
		}
		for i := range items {
			v, err := one(items[i])
			if err != nil {
				return err
			}
			items[i] = v
		}
		md.val = mustJSON(items)
		return nil
	}
	v, err := one(md.val)
	if err != nil {
		return err
	}
	md.val = v
	return nil
}

func (w *whereClause) matches(m *Model, rec *jsObject) bool {
	for _, c := range w.on {
		v, ok := rec.vals[c.attr]
		if !ok {
			v = json.RawMessage("null")
		}
		for _, md := range c.mods {
			if !md.holds(v) {
				return false
			}
		}
	}
	for i := range w.and {
		if !w.and[i].matches(m, rec) {
			return false
		}
	}
	if len(w.or) > 0 {
		any := false
		for i := range w.or {
			if w.or[i].matches(m, rec) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

func (md *modifier) holds(v json.RawMessage) bool {
	switch md.op {
	case "eq":
		return equalJSON(v, md.val)
	case "!=":
		return !equalJSON(v, md.val)
	case "in", "nin":
		var items []json.RawMessage
		_ = json.Unmarshal(md.val, &items)
		in := false
		for _, it := range items {
			if equalJSON(v, it) {
				in = true
				break
			}
		}
		return in == (md.op == "in")
	case "<", "<=", ">", ">=":
		if !comparable(v, md.val) {
			return false
		}
		c := compareJSON(v, md.val)
		switch md.op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	case "contains", "startsWith", "endsWith", "like":
		if wire.FirstByte(v) != '"' || wire.FirstByte(md.val) != '"' {
			return false
		}
		s, p := decodeString(v), decodeString(md.val)
		switch md.op {
		case "contains":
			return strings.Contains(s, p)
		case "startsWith":
			return strings.HasPrefix(s, p)
		case "endsWith":
			return strings.HasSuffix(s, p)
		}
		return likeMatch(s, p)
	}
	return false
}

// likeMatch matches s against a SQL LIKE pattern (% any run, _ one character).
func likeMatch(s, p string) bool {
	sr, pr := []rune(s), []rune(p)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for j < len(pr) {
			switch pr[j] {
			case '%':
				for k := i; k <= len(sr); k++ {
					if match(k, j+1) {
						return true
					}
				}
				return false
			case '_':
				if i >= len(sr) {
					return false
				}
			default:
				if i >= len(sr) || sr[i] != pr[j] {
					return false
				}
			}
			i++
			j++
		}
		return i == len(sr)
	}
	return match(0, 0)
}

func isNumberJSON(v json.RawMessage) bool {
	c := wire.FirstByte(v)
	return c == '-' || c >= '0' && c <= '9'
}

func comparable(a, b json.RawMessage) bool {
	return isNumberJSON(a) && isNumberJSON(b) || wire.FirstByte(a) == '"' && wire.FirstByte(b) == '"'
}

func equalJSON(a, b json.RawMessage) bool {
	if isNumberJSON(a) && isNumberJSON(b) {
		return compareJSON(a, b) == 0
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := marshalJSON(x)
	yb, _ := marshalJSON(y)
	return string(xb) == string(yb)
}

// compareJSON orders two values: numbers numerically, strings by code point, null and missing
// first, then numbers, strings, anything else.
func compareJSON(a, b json.RawMessage) int {
	rank := func(v json.RawMessage) int {
		switch c := wire.FirstByte(v); {
		case c == 0 || c == 'n':
			return 0
		case c == '-' || c >= '0' && c <= '9':
			return 1
		case c == '"':
			return 2
		}
		return 3
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch ra {
	case 1:
		x, _ := strconv.ParseFloat(string(a), 64)
		y, _ := strconv.ParseFloat(string(b), 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case 2:
		return strings.Compare(decodeString(a), decodeString(b))
	case 3:
		return strings.Compare(string(a), string(b))
	}
	return 0
}
