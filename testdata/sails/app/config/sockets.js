/**
 * WebSocket settings (sails-hook-sockets), driven by SAILSIO_* environment variables.
 * See ../lift.js for the list.
 */

function intFromEnv(name) {
  var v = process.env[name];
  if (v === undefined || v === '') { return undefined; }
  var n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(name + ' must be a non-negative number (got ' + JSON.stringify(v) + ')');
  }
  return n;
}

// SAILSIO_TRANSPORTS: a comma list such as "polling,websocket" (default: websocket only, as Sails).
var transports = (process.env.SAILSIO_TRANSPORTS || 'websocket').split(',')
  .map(function (s) { return s.trim(); })
  .filter(Boolean);
transports.forEach(function (t) {
  if (t !== 'websocket' && t !== 'polling') {
    throw new Error('SAILSIO_TRANSPORTS: unknown transport ' + JSON.stringify(t));
  }
});

var sockets = {
  transports: transports
};

if (intFromEnv('SAILSIO_PING_INTERVAL') !== undefined) {
  sockets.pingInterval = intFromEnv('SAILSIO_PING_INTERVAL');
}
if (intFromEnv('SAILSIO_PING_TIMEOUT') !== undefined) {
  sockets.pingTimeout = intFromEnv('SAILSIO_PING_TIMEOUT');
}
if (intFromEnv('SAILSIO_MAX_BUFFER') !== undefined) {
  sockets.maxHttpBufferSize = intFromEnv('SAILSIO_MAX_BUFFER');
}
if (process.env.SAILSIO_ONLY_ALLOW_ORIGINS) {
  sockets.onlyAllowOrigins = process.env.SAILSIO_ONLY_ALLOW_ORIGINS.split(',')
    .map(function (s) { return s.trim(); })
    .filter(Boolean);
}
if (process.env.SAILSIO_BEFORE_CONNECT_REJECT === '1') {
  // Note: when beforeConnect is set, sails-hook-sockets ignores onlyAllowOrigins.
  sockets.beforeConnect = function (handshake, proceed) {
    if (handshake.headers['x-reject'] !== undefined) {
      return proceed(undefined, false);
    }
    return proceed(undefined, true);
  };
}

module.exports.sockets = sockets;
