// One benchmark round with the official client, sails.io.js 1.2.1, driven by the Go program in
// bench/ (go run ./bench). It is not meant to be run by hand, but can be:
//
//   node bench/js/client.js '{"url":"http://127.0.0.1:1337","path":"/status/200","warmup":200,
//     "seq":2000,"par":10000,"inflight":64,"sockets":200,"timeoutMs":120000,
//     "sio":"4","transports":["websocket"]}'
//
// "sio" picks the socket.io-client under sails.io.js (see docs/protocol.md#the-options-quirk):
//   "2"  socket.io-client 2.x (package socket.io-client), the pairing sails.io.js was written for;
//        Engine.IO v3.
//   "4"  socket.io-client 4.x (package socket.io-client-4, an npm alias), through a shim that passes
//        sails.io.js' options as a plain object; Engine.IO v4, so the server must be hook3.
// "transports" is passed to socket.io-client as is: ["websocket"] (default) or ["polling"].
//
// Phases, in this order, each against the same server and route as the Go side:
//   warmup   `warmup` requests one at a time (not measured)
//   seq      `seq` requests one at a time: latency of each, client CPU
//   par      `par` requests with `inflight` in flight on the same socket: wall time, client CPU
//   connect  `sockets` more sockets connected at once: wall time until every one is connected, client
//            CPU, then RSS with them open; then they are disconnected
//
// With "mode":"events" it measures receiving events instead (the events section of the Go program):
//   node bench/js/client.js '{"mode":"events","url":"http://127.0.0.1:1337","path":"/events",
//     "warmup":{"n":2000,"size":16,"chunk":1,"event":"tick"},"events":{"n":20000,"size":16,"chunk":1,
//     "event":"tick"},"timeoutMs":120000,"sio":"4","transports":["websocket"]}'
//   One socket, one socket.on(event, h) handler that checks each event's data.i. It posts
//   `warmup` to `path` and waits for its events and its answer (not measured), then does the same
//   with `events`, measured: wall time from the request to the last event and the answer, client CPU.
// The result is one line on stdout: "SAILSIO_BENCH_RESULT " followed by JSON. Errors go to stderr
// and make the process exit with a non-zero status; it also exits by itself after timeoutMs.
//
// With "mode": "large" (the large section, bench/large.go; run node with --expose-gc) it does
// instead, on one socket:
//   warm-up   one small POST /size
//   large     builds {blob: 'xxx…'} with `largeBytes` characters, collects the garbage, resets the
//             peak RSS (VmHWM, /proc/self/clear_refs) and takes VmRSS as the baseline, then POSTs it
//             to /size: the time until the response, and VmHWM minus the baseline
//   over      the same with `overBytes` characters (0: skipped), over the server's limit: the time
//             until the request fails: the server closes the WebSocket, and sails.io.js calls the
//             request's callback with status 0 (or the disconnect event comes first)
// and prints "SAILSIO_BENCH_LARGE " followed by JSON.
'use strict';

var RESULT_PREFIX = 'SAILSIO_BENCH_RESULT ';

var params;
try {
  params = JSON.parse(process.argv[2] || '');
} catch (e) {
  process.stderr.write('client.js: the first argument must be the JSON parameters: ' + e.message + '\n');
  process.exit(2);
}

function fail(msg) {
  process.stderr.write('client.js: ' + msg + '\n');
  process.exit(1);
}

var watchdog = setTimeout(function () {
  fail('timed out after ' + params.timeoutMs + ' ms');
}, params.timeoutMs || 120000);

var rssAtStart = process.memoryUsage().rss;

var sioPackage = params.sio === '4' ? 'socket.io-client-4' : 'socket.io-client';
var socketIOClient = require(sioPackage);
var io = require('sails.io.js')(params.sio === '4' ? plainOptions(socketIOClient) : socketIOClient);
// No eager io.socket, no console logging, no reconnection: one plain socket per connect().
io.sails.autoConnect = false;
io.sails.environment = 'production';
io.sails.reconnection = false;

// ENGINE_OPTIONS are the SailsSocket properties socket.io-client reads as its options.
var ENGINE_OPTIONS = ['path', 'query', 'transports', 'multiplex', 'reconnection', 'reconnectionAttempts',
  'reconnectionDelay', 'reconnectionDelayMax', 'randomizationFactor', 'timeout', 'rejectUnauthorized',
  'extraHeaders', 'transportOptions'];

// plainOptions wraps socket.io-client 3+ so that sails.io.js works on it. sails.io.js passes its
// SailsSocket as the options (io(url, sailsSocket)); most of its options are accessor properties,
// which socket.io-client 3+ loses when it copies its options with Object.assign (the path and the
// SDK version query among them). The wrapper passes a plain-object snapshot instead.
function plainOptions(connect) {
  return function (url, sailsSocket) {
    var opts = {};
    ENGINE_OPTIONS.forEach(function (k) {
      if (sailsSocket[k] !== undefined) {
        opts[k] = sailsSocket[k];
      }
    });
    return connect(url, opts);
  };
}

function versionOf(name) {
  try {
    return require(name + '/package.json').version;
  } catch (e) {
    return 'unknown';
  }
}

function now() {
  return process.hrtime.bigint();
}

function micros(fromNs, toNs) {
  return Number(toNs - fromNs) / 1000;
}

function cpuMicros(since) {
  var d = process.cpuUsage(since);
  return d.user + d.system;
}

function connect() {
  return new Promise(function (resolve, reject) {
    var s = io.sails.connect(params.url, {
      multiplex: false,
      reconnection: false,
      transports: params.transports || ['websocket']
    });
    var settled = false;
    s.on('connect', function () {
      if (!settled) {
        settled = true;
        resolve(s);
      }
    });
    s.on('connect_error', function (err) {
      if (!settled) {
        settled = true;
        reject(new Error('connect_error: ' + (err && err.message ? err.message : String(err))));
      }
    });
  });
}

var errors = 0;
var firstError = '';

function check(jwr) {
  if (!jwr || jwr.statusCode !== 200) {
    errors++;
    if (!firstError) {
      firstError = 'status ' + (jwr ? jwr.statusCode : 'none') + ': ' + JSON.stringify(jwr && jwr.body).slice(0, 200);
    }
  }
}

// sequential sends n requests, each once the previous one answered, and resolves with their latencies
// in microseconds.
function sequential(s, n) {
  return new Promise(function (resolve) {
    var lat = new Array(n);
    var i = 0;
    var t0;
    function next() {
      if (i === n) {
        resolve(lat);
        return;
      }
      t0 = now();
      s.get(params.path, function (body, jwr) {
        lat[i++] = micros(t0, now());
        check(jwr);
        next();
      });
    }
    next();
  });
}

// inFlight sends total requests keeping `inflight` of them outstanding on one socket.
function inFlight(s, total, inflight) {
  return new Promise(function (resolve) {
    var sent = 0;
    var done = 0;
    function one() {
      sent++;
      s.get(params.path, function (body, jwr) {
        check(jwr);
        done++;
        if (sent < total) {
          one();
        } else if (done === total) {
          resolve();
        }
      });
    }
    var k = Math.min(inflight, total);
    if (k === 0) {
      resolve();
    }
    for (var j = 0; j < k; j++) {
      one();
    }
  });
}

async function main() {
  var out = {
    client: 'sails.io.js ' + versionOf('sails.io.js') + ' + socket.io-client ' + versionOf(sioPackage) +
      (params.sio === '4' ? ' (options as a plain object)' : ''),
    node: process.version,
    rssStart: rssAtStart
  };

  var s = await connect();
  await sequential(s, params.warmup);

  var cpu0 = process.cpuUsage();
  var t0 = now();
  var lat = await sequential(s, params.seq);
  out.seqWallUs = micros(t0, now());
  out.seqCpuUs = cpuMicros(cpu0);
  out.seqLatUs = lat;

  cpu0 = process.cpuUsage();
  t0 = now();
  await inFlight(s, params.par, params.inflight);
  out.parWallUs = micros(t0, now());
  out.parCpuUs = cpuMicros(cpu0);
  out.rssOneSocket = process.memoryUsage().rss;

  cpu0 = process.cpuUsage();
  t0 = now();
  var many = await Promise.all(Array.from({length: params.sockets}, connect));
  out.connectWallUs = micros(t0, now());
  out.connectCpuUs = cpuMicros(cpu0);
  out.rssSockets = process.memoryUsage().rss;
  out.sockets = params.sockets;

  many.forEach(function (m) { m.disconnect(); });
  s.disconnect();
  out.maxRss = process.resourceUsage().maxRSS * 1024;
  out.errors = errors;
  out.firstError = firstError;

  clearTimeout(watchdog);
  process.stdout.write(RESULT_PREFIX + JSON.stringify(out) + '\n', function () {
    process.exit(0);
  });
}

// procStatus returns a field of /proc/self/status in bytes (-1 when unavailable).
function procStatus(field) {
  try {
    var m = require('fs').readFileSync('/proc/self/status', 'utf8').match(new RegExp('^' + field + ':\\s+(\\d+) kB', 'm'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch (e) {
    return -1;
  }
}

// largeBody is {blob: 'xxx…'} with n characters, as a flat one-byte string.
function largeBody(n) {
  return {blob: Buffer.alloc(n, 'x').toString('latin1')};
}

function post(s, body) {
  return new Promise(function (resolve) {
    s.post('/size', body, function (resBody, jwr) {
      resolve(jwr);
    });
  });
}

async function largeMain() {
  var out = {
    client: 'sails.io.js ' + versionOf('sails.io.js') + ' + socket.io-client ' + versionOf(sioPackage) +
      (params.sio === '4' ? ' (options as a plain object)' : ''),
    node: process.version
  };
  var s = await connect();
  var jwr = await post(s, largeBody(10));
  if (!jwr || jwr.statusCode !== 200) {
    fail('warm-up POST /size: status ' + (jwr && jwr.statusCode));
  }

  var body = largeBody(params.largeBytes);
  if (global.gc) {
    global.gc();
  }
  try {
    require('fs').writeFileSync('/proc/self/clear_refs', '5');
    out.hwmReset = true;
  } catch (e) {
    out.hwmReset = false;
  }
  out.baselineRss = procStatus('VmRSS');
  var cpu0 = process.cpuUsage();
  var t0 = now();
  jwr = await post(s, body);
  out.postUs = micros(t0, now());
  out.postCpuUs = cpuMicros(cpu0);
  out.peakRss = procStatus('VmHWM');
  var want = JSON.stringify(body).length;
  if (!jwr || jwr.statusCode !== 200 || !jwr.body || jwr.body.bytes !== want) {
    fail('POST /size: status ' + (jwr && jwr.statusCode) + ' ' + JSON.stringify(jwr && jwr.body).slice(0, 200) + ', want {bytes: ' + want + '}');
  }
  out.answerBytes = jwr.body.bytes;
  body = null;

  if (params.overBytes > 0) {
    var over = largeBody(params.overBytes);
    t0 = now();
    out.overOutcome = await new Promise(function (resolve) {
      s.on('disconnect', function (reason) {
        resolve('disconnect event: ' + reason);
      });
      s.post('/size', over, function (resBody, jwr) {
        resolve('callback: status ' + (jwr && jwr.statusCode) + ' ' + JSON.stringify(resBody).slice(0, 200));
      });
    });
    out.overUs = micros(t0, now());
    out.overRefused = /^disconnect|^callback: status 0 /.test(out.overOutcome) ? 1 : 0;
    over = null;
  }
  if (s.isConnected()) {
    s.disconnect();
  }
  clearTimeout(watchdog);
  process.stdout.write('SAILSIO_BENCH_LARGE ' + JSON.stringify(out) + '\n', function () {
    process.exit(0);
  });
}

// receiveEvents asks the server for events (POST params.path with data w) and resolves once all
// w.n events and the answer have arrived.
function receiveEvents(s, state, w) {
  return new Promise(function (resolve) {
    var answered = false;
    state.got = 0;
    state.want = w.n;
    state.resolve = function () {
      if (answered && state.got >= state.want) {
        state.resolve = null;
        resolve();
      }
    };
    s.post(params.path, w, function (body, jwr) {
      check(jwr);
      answered = true;
      if (state.resolve) {
        state.resolve();
      }
    });
  });
}

async function eventsMain() {
  var out = {
    client: 'sails.io.js ' + versionOf('sails.io.js') + ' + socket.io-client ' + versionOf(sioPackage) +
      (params.sio === '4' ? ' (options as a plain object)' : ''),
    node: process.version
  };
  var s = await connect();
  var state = {got: 0, want: 0, resolve: null};
  s.on(params.events.event, function (data) {
    if (!data || data.i !== state.got) {
      errors++;
      if (!firstError) {
        firstError = 'event number ' + state.got + ' is ' + JSON.stringify(data).slice(0, 200);
      }
    }
    state.got++;
    if (state.resolve) {
      state.resolve();
    }
  });
  await receiveEvents(s, state, params.warmup);

  var cpu0 = process.cpuUsage();
  var t0 = now();
  await receiveEvents(s, state, params.events);
  out.wallUs = micros(t0, now());
  out.cpuUs = cpuMicros(cpu0);
  out.events = state.got;

  s.disconnect();
  out.errors = errors;
  out.firstError = firstError;
  clearTimeout(watchdog);
  process.stdout.write(RESULT_PREFIX + JSON.stringify(out) + '\n', function () {
    process.exit(0);
  });
}

var modes = {large: largeMain, events: eventsMain};
(modes[params.mode] || main)().catch(function (err) {
  fail(err && err.stack ? err.stack : String(err));
});
