// GET /session (the harness's own route, not the template's): which session the request got.
// cookie: the sails.sid the request carried (over a socket: its handshake's); sameSession: whether
// the session is the one that cookie names (false when the store does not know it, e.g. after a
// restart with the memory store: the request then has a fresh, empty session); loggedIn: whether
// the session holds a userId.
module.exports = {
  friendlyName: 'Session',
  fn: async function () {
    var req = this.req;
    var m = /(?:^|;\s*)sails\.sid=([^;]*)/.exec(req.headers.cookie || '');
    var cookie = m ? m[1] : null;
    var signed = cookie ? decodeURIComponent(cookie) : '';
    return {
      cookie: cookie,
      sameSession: !!(req.sessionID && signed.indexOf('s:' + req.sessionID + '.') === 0),
      loggedIn: !!(req.session && req.session.userId)
    };
  }
};
