/**
 * lift.js
 *
 * Lifts a test app using the Sails, sails-hook-sockets, sails-hook-orm and sails-disk
 * installed in a *hook directory* (../hook1, ../hook2 or ../hook3): the shared test app in this
 * directory, or with SAILSIO_APP=webapp the Web App template's look-alike in ../webapp.
 * Every module is resolved from the hook directory, never from an app, so the socket.io
 * version under test is decided by the hook directory alone.
 *
 * Usage (from a hook directory's server.js):
 *
 *   require('../app/lift.js')(__dirname);
 *
 * Environment:
 *   SAILSIO_PORT                 (required) TCP port; the server listens on 127.0.0.1 only.
 *   SAILSIO_APP                  which app: "app" (default, this directory) or "webapp" (../webapp:
 *                                CSRF on, views, login; see ../README.md).
 *   SAILSIO_DATA_DIR             webapp only: keep the records in files in this directory (sails-disk),
 *                                so that they survive a restart; default in memory.
 *   SAILSIO_PING_INTERVAL        sockets.pingInterval in ms (Sails default 25000).
 *   SAILSIO_PING_TIMEOUT         sockets.pingTimeout in ms (Sails default 60000).
 *   SAILSIO_ONLY_ALLOW_ORIGINS   comma-separated list -> sockets.onlyAllowOrigins.
 *   SAILSIO_BEFORE_CONNECT_REJECT  "1": a beforeConnect that refuses handshakes carrying an x-reject header.
 *   SAILSIO_MAX_BUFFER           sockets.maxHttpBufferSize in bytes (Sails default 1e8).
 *   SAILSIO_LOG_LEVEL            Sails log level (default "warn").
 *   SAILSIO_SESSION_FILE         path of a JSON file: sessions are kept there (session-store.js)
 *                                instead of in memory, so they survive a restart of the server.
 *   SAILSIO_EXIT_ON_STDIN_EOF    "1": shut down when stdin reaches EOF (set by the Go harness, so
 *                                the server cannot outlive the test process that started it).
 *   SAILSIO_REDIS_URL            cluster mode (internal/cluster): "redis://127.0.0.1:PORT". Sockets use
 *                                the @sailshq/socket.io-redis adapter and sessions @sailshq/connect-redis,
 *                                both installed in the hook directory, so several servers share rooms,
 *                                broadcasts and sessions. Needs SAILSIO_APP_DIR.
 *   SAILSIO_REDIS_PREFIX         cluster mode: the adapter's channel prefix (its `key`) and the session
 *                                keys' prefix, so that two clusters can share one Redis (default "sailsio").
 *   SAILSIO_APP_DIR              cluster mode: an empty directory of this server's own. The app is lifted
 *                                from there (symlinks to this app's api/ and config/ and to the hook's
 *                                node_modules, where Sails looks for adapters named by a string), and
 *                                sails-disk files, if any, stay there.
 * (The SAILSIO_* socket settings are read in config/sockets.js.)
 *
 * Once lifted it prints exactly one line, `SAILSIO_READY <port>`, to stdout.
 * SIGTERM / SIGINT lower the app and exit (forced after a few seconds).
 * Nothing is written to disk: the datastore is in memory and sessions use the memory store
 * (unless SAILSIO_SESSION_FILE is set).
 */

'use strict';

var path = require('path');
var fs = require('fs');
var Module = require('module');

// The apps this launcher lifts, as directories next to this one.
var APPS = ['app', 'webapp'];

// How long lowering may take after SIGTERM/SIGINT before the process is forced out.
var FORCED_EXIT_MS = 3000;

/**
 * Returns the version of package `name` as resolved by `req`, even when the package's
 * "exports" map does not expose ./package.json (socket.io, engine.io).
 */
function packageInfo(req, name) {
  var main = req.resolve(name);
  var dir = path.dirname(main);
  for (;;) {
    var candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      var pkg = JSON.parse(fs.readFileSync(candidate, 'utf8'));
      if (pkg.name === name) {
        return {version: pkg.version, dir: dir};
      }
    }
    var parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error('cannot find package.json of ' + name + ' above ' + main);
    }
    dir = parent;
  }
}

function fail(msg) {
  process.stderr.write('SAILSIO_LIFT_ERROR ' + msg + '\n');
  process.exit(1);
}

module.exports = function lift(hookDir) {
  hookDir = path.resolve(hookDir);
  var appName = process.env.SAILSIO_APP || 'app';
  if (APPS.indexOf(appName) < 0) {
    fail('SAILSIO_APP must be one of ' + APPS.join(', ') + ' (got ' + JSON.stringify(appName) + ')');
  }
  var appDir = path.join(__dirname, '..', appName);
  // The shared app renders no views; the webapp does (its homepage exposes the CSRF token).
  var views = appName === 'webapp';

  // Always development: production refuses to lift without onlyAllowOrigins/beforeConnect.
  process.env.NODE_ENV = 'development';

  var port = Number(process.env.SAILSIO_PORT);
  if (!process.env.SAILSIO_PORT || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail('SAILSIO_PORT must be set to a TCP port (got ' + JSON.stringify(process.env.SAILSIO_PORT) + ')');
  }

  // Resolve everything from the hook directory.
  var hookRequire = Module.createRequire(path.join(hookDir, 'package.json'));
  if (!fs.existsSync(path.join(hookDir, 'node_modules'))) {
    fail('no node_modules in ' + hookDir + ' (run: npm ci --prefix ' + hookDir + ')');
  }

  var sailsInfo = packageInfo(hookRequire, 'sails');
  var hookInfo = packageInfo(hookRequire, 'sails-hook-sockets');
  // socket.io and engine.io as the hook itself resolves them.
  var hookModuleRequire = Module.createRequire(path.join(hookInfo.dir, 'package.json'));
  var sioInfo = packageInfo(hookModuleRequire, 'socket.io');
  var sioRequire = Module.createRequire(path.join(sioInfo.dir, 'package.json'));
  var eioInfo = packageInfo(sioRequire, 'engine.io');

  var versions = {
    sails: sailsInfo.version,
    hook: hookInfo.version,
    socketio: sioInfo.version,
    engineio: eioInfo.version,
    orm: packageInfo(hookRequire, 'sails-hook-orm').version,
    node: process.versions.node
  };

  var Sails = hookRequire('sails').constructor;
  var app = new Sails();

  // Optional persistent sessions: a session adapter (see session-store.js), which Sails'
  // session hook builds with its own express-session. The secret stays the one of
  // config/session.js, so cookies signed before a restart are still valid after it.
  var sessionConfig;
  if (process.env.SAILSIO_SESSION_FILE) {
    sessionConfig = {
      adapter: require('./session-store.js'),
      sessionFile: path.resolve(process.env.SAILSIO_SESSION_FILE)
    };
  }

  // Cluster mode: the Redis socket adapter and session store, from an app directory of this
  // server's own whose node_modules is the hook directory's.
  var liftPath = appDir;
  var socketsConfig;
  if (process.env.SAILSIO_REDIS_URL) {
    var redisURL = process.env.SAILSIO_REDIS_URL;
    var prefix = process.env.SAILSIO_REDIS_PREFIX || 'sailsio';
    liftPath = process.env.SAILSIO_APP_DIR;
    if (!liftPath || !fs.existsSync(liftPath)) {
      fail('SAILSIO_REDIS_URL needs SAILSIO_APP_DIR, an existing directory (got ' + JSON.stringify(liftPath) + ')');
    }
    liftPath = path.resolve(liftPath);
    var links = [['api', path.join(appDir, 'api')], ['config', path.join(appDir, 'config')], ['node_modules', path.join(hookDir, 'node_modules')]];
    if (views) {
      links.push(['views', path.join(appDir, 'views')]);
    }
    links.forEach(function (l) {
      var p = path.join(liftPath, l[0]);
      if (!fs.existsSync(p)) { fs.symlinkSync(l[1], p, 'dir'); }
    });
    socketsConfig = {adapter: '@sailshq/socket.io-redis', url: redisURL, key: prefix};
    sessionConfig = {adapter: '@sailshq/connect-redis', url: redisURL, prefix: prefix + ':sess:'};
    versions.redisAdapter = packageInfo(hookRequire, '@sailshq/socket.io-redis').version;
    versions.sessionStore = packageInfo(hookRequire, '@sailshq/connect-redis').version;
    versions.port = port; // which node answered, through a load balancer
    versions.pid = process.pid; // for the storm's CPU figures
  }

  var lifted = false;
  var stopping = false;
  function onSignal() {
    if (stopping) { return; }
    stopping = true;
    if (!lifted) {
      process.exit(0);
    }
    // Sails' own SIGINT/SIGTERM listeners (registered during lift) lower the app
    // and exit; this only bounds how long that may take.
    setTimeout(function () { process.exit(0); }, FORCED_EXIT_MS);
  }
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  if (process.env.SAILSIO_EXIT_ON_STDIN_EOF === '1') {
    // The parent went away (or closed the pipe): shut down as on SIGTERM.
    var onEOF = function () { process.kill(process.pid, 'SIGTERM'); };
    process.stdin.on('end', onEOF);
    process.stdin.on('error', onEOF);
    process.stdin.resume();
  }

  app.lift({
    appPath: liftPath,
    environment: 'development',
    port: port,
    explicitHost: '127.0.0.1',
    log: {level: process.env.SAILSIO_LOG_LEVEL || 'warn', noShip: true},
    hooks: Object.assign({
      sockets: hookRequire('sails-hook-sockets'),
      orm: hookRequire('sails-hook-orm'),
      grunt: false,
      i18n: false
    }, views ? {} : {views: false}),
    orm: {
      // Hand the hook directory's sails-disk to the ORM (the app dir has no node_modules).
      moduleDefinitions: {adapters: {'sails-disk': hookRequire('sails-disk')}}
    },
    custom: {versions: versions},
    ...(sessionConfig ? {session: sessionConfig} : {}),
    ...(socketsConfig ? {sockets: socketsConfig} : {})
  }, function (err) {
    if (err) {
      var msg = (err && (err.code === 'EADDRINUSE' || /EADDRINUSE/.test(String(err)))) ? 'EADDRINUSE ' : '';
      fail(msg + (err && err.stack ? err.stack : String(err)).replace(/\n/g, '\n  '));
    }
    lifted = true;
    // Make sure the socket server really is the socket.io of this hook directory.
    var sio = sioRequire(sioInfo.dir);
    var SioServer = sio.Server || sio;
    if (!app.io || !(app.io instanceof SioServer)) {
      fail('the socket server is not an instance of ' + sioInfo.dir);
    }
    if (stopping) {
      return;
    }
    process.stdout.write('SAILSIO_READY ' + port + '\n');
  });
};
