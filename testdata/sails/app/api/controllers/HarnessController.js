/**
 * HarnessController: the actions behind config/routes.js.
 * Every action works over HTTP and over sockets (virtual requests).
 * The app is lifted as a `new Sails()` instance without globals, so actions use
 * `req._sails` instead of the `sails` global.
 */

var SLOW_DEFAULT_MS = 500;
var SLOW_MAX_MS = 10000;
var BIG_DEFAULT = 1024;
var BIG_MAX = 50e6;
var KICK_DELAY_MS = 100;
var EVENTS_MAX = 1e6;
var EVENTS_SIZE_DEFAULT = 16;
var EVENTS_SIZE_MAX = 1e6;
var EVENTS_CHUNK_DEFAULT = 1;

// POST /seq records, per key, the order in which requests reach their action.
var sequences = {};

function numberParam(req, name, def, max) {
  var raw = req.param(name);
  var n = Number(raw);
  if (raw === undefined || raw === null || raw === '' || !Number.isFinite(n) || n < 0) {
    return def;
  }
  return Math.min(Math.floor(n), max);
}

function notSocket(res) {
  return res.badRequest({error: 'not a socket'});
}

module.exports = {

  // Any verb: reflects the request back.
  echo: function (req, res) {
    res.set('x-echo', '1');
    return res.json({
      method: req.method,
      url: req.url,
      path: req.path,
      params: req.allParams(),
      body: req.body,
      query: req.query,
      headers: req.headers,
      isSocket: Boolean(req.isSocket),
      ip: req.ip
    });
  },

  // GET /status/:code
  status: function (req, res) {
    var code = Number(req.param('code'));
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      return res.badRequest({error: 'bad status code'});
    }
    return res.status(code).json({status: code});
  },

  // GET /slow?ms=N (default 500, at most 10000)
  slow: function (req, res) {
    var ms = numberParam(req, 'ms', SLOW_DEFAULT_MS, SLOW_MAX_MS);
    setTimeout(function () {
      return res.json({slow: true});
    }, ms);
  },

  // GET /big?n=N: a string of N 'x' characters (default 1024, at most 50e6).
  big: function (req, res) {
    var n = numberParam(req, 'n', BIG_DEFAULT, BIG_MAX);
    return res.send('x'.repeat(n));
  },

  // POST /size: length of the JSON-encoded body.
  size: function (req, res) {
    var body = req.body === undefined ? null : req.body;
    return res.json({bytes: JSON.stringify(body).length});
  },

  // POST /login {name}
  login: function (req, res) {
    if (!req.session) {
      return res.badRequest({error: 'no session'});
    }
    var name = req.param('name');
    req.session.user = name;
    return res.json({user: name === undefined ? null : name});
  },

  // GET /me
  me: function (req, res) {
    return res.json({user: (req.session && req.session.user) || null});
  },

  // GET /count: per-session counter.
  count: function (req, res) {
    if (!req.session) {
      return res.json({count: null});
    }
    req.session.count = (req.session.count || 0) + 1;
    return res.json({count: req.session.count});
  },

  // GET /secret (policy hasApiKey)
  secret: function (req, res) {
    return res.json({secret: 42});
  },

  // POST /rooms/:room/join
  join: function (req, res) {
    if (!req.isSocket) { return notSocket(res); }
    var room = req.param('room');
    req._sails.sockets.join(req, room, function (err) {
      if (err) { return res.serverError(err); }
      return res.json({joined: room, id: req._sails.sockets.getId(req)});
    });
  },

  // POST /rooms/:room/leave
  leave: function (req, res) {
    if (!req.isSocket) { return notSocket(res); }
    var room = req.param('room');
    req._sails.sockets.leave(req, room, function (err) {
      if (err) { return res.serverError(err); }
      return res.json({left: room, id: req._sails.sockets.getId(req)});
    });
  },

  // POST /rooms/:room/say {text}: event "chat" to everyone in the room, sender included.
  say: function (req, res) {
    var room = req.param('room');
    req._sails.sockets.broadcast(room, 'chat', {
      room: room,
      text: req.param('text'),
      from: req.isSocket ? req._sails.sockets.getId(req) : null
    });
    return res.json({sent: true});
  },

  // POST /blast {event, data}: event (default "news") to every connected socket.
  blast: function (req, res) {
    req._sails.sockets.blast(req.param('event') || 'news', req.param('data'));
    return res.json({blasted: true});
  },

  // POST /events {n, size, event, chunk}: sends n events (default 1, at most 1e6) named event
  // (default "tick") to the requesting socket, each {i, text}: i from 0 to n-1 and text a string of
  // size 'x' characters (default 16, at most 1e6). The events go out chunk at a time (default 1):
  // chunk in one turn of the event loop, then the next chunk on the next turn (setImmediate), as a
  // server that emits what happens as it happens. Answers {sent: n} once the last one is emitted.
  events: function (req, res) {
    if (!req.isSocket) { return notSocket(res); }
    var n = numberParam(req, 'n', 1, EVENTS_MAX);
    var text = 'x'.repeat(numberParam(req, 'size', EVENTS_SIZE_DEFAULT, EVENTS_SIZE_MAX));
    var chunk = Math.max(1, numberParam(req, 'chunk', EVENTS_CHUNK_DEFAULT, EVENTS_MAX));
    var event = String(req.param('event') || 'tick');
    var room = req._sails.sockets.getId(req);
    var i = 0;
    function next() {
      var end = Math.min(n, i + chunk);
      for (; i < end; i++) {
        req._sails.sockets.broadcast(room, event, {i: i, text: text});
      }
      if (i < n) {
        return setImmediate(next);
      }
      return res.json({sent: n});
    }
    next();
  },

  // POST /kick: responds, then the server disconnects the requesting socket.
  kick: function (req, res) {
    if (!req.isSocket) { return notSocket(res); }
    var socket = req.socket;
    res.json({kicked: true});
    setTimeout(function () {
      socket.disconnect(true);
    }, KICK_DELAY_MS);
  },

  // GET /redirect?to=URL: res.redirect(to) (default "/echo"), a 302 with a Location header.
  redirect: function (req, res) {
    return res.redirect(req.param('to') || '/echo');
  },

  // POST /seq {key, n, delay}: appends n to the list of key at once, in the action's synchronous
  // part; answers {n} after delay ms (0 or missing: at once).
  seq: function (req, res) {
    var key = String(req.param('key'));
    var n = req.param('n');
    (sequences[key] = sequences[key] || []).push(n);
    var delay = numberParam(req, 'delay', 0, SLOW_MAX_MS);
    if (!delay) {
      return res.json({n: n});
    }
    setTimeout(function () {
      return res.json({n: n});
    }, delay);
  },

  // GET /seq?key=K: the list of key, which is then forgotten.
  seqList: function (req, res) {
    var key = String(req.param('key'));
    var list = sequences[key] || [];
    delete sequences[key];
    return res.json(list);
  },

  // r|^/re/(\\d+)/(\\w+)$|num,word: the params of a regular-expression route.
  regexp: function (req, res) {
    return res.json({num: req.param('num'), word: req.param('word'), zero: req.params[0], one: req.params[1]});
  },

  // GET /jsonstring: res.json of a string (over sockets Sails sends it JSON-encoded twice).
  jsonString: function (req, res) {
    return res.json('a string');
  },

  // GET /headercase: response headers set with res.set in mixed case.
  headerCase: function (req, res) {
    res.set('X-Mixed-Case', 'M');
    res.set('x-lower', 'l');
    res.set('X-Lower', 'L');
    res.set('Set-Cookie', 'a=b');
    return res.json({ok: true});
  },

  // GET /trace: the W3C trace context the request carried (virtual headers over sockets), as an
  // instrumented action would continue it; logged at level info (SAILSIO_LOG_LEVEL=info).
  trace: function (req, res) {
    var got = {
      traceparent: req.headers.traceparent || null,
      tracestate: req.headers.tracestate || null,
      baggage: req.headers.baggage || null
    };
    req._sails.log.info('GET /trace traceparent=' + got.traceparent + ' tracestate=' + got.tracestate + ' baggage=' + got.baggage);
    return res.json(got);
  },

  // GET /version: versions actually loaded (see lift.js).
  version: function (req, res) {
    return res.json(req._sails.config.custom.versions);
  }
};
