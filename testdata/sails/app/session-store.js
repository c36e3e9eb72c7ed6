/**
 * session-store.js
 *
 * A tiny persistent express-session store for the resilience tests: sessions live in one JSON
 * file, so a session created before a server restart is still there after it (the default memory
 * store forgets everything when the process exits). lift.js uses it only when
 * SAILSIO_SESSION_FILE is set.
 *
 * It is a connect-style session adapter (like connect-redis): a function of the express-session
 * module that returns the Store class. lift.js hands it to Sails as the session adapter,
 *
 *   session: {adapter: require('./session-store.js'), sessionFile: '/tmp/x/sessions.json'}
 *
 * and Sails' session hook builds the store with `new (adapter(expressSession))(sails.config.session)`.
 *
 * The whole file is read once when the store is made and rewritten synchronously (to a temporary
 * file, then renamed) on every change: this is a test server with a handful of sessions.
 */

'use strict';

var fs = require('fs');
var util = require('util');

module.exports = function (expressSession) {
  var Store = expressSession.Store;

  // options: sails.config.session; options.sessionFile is the path of the JSON file.
  function FileStore(options) {
    if (!(this instanceof FileStore)) {
      return new FileStore(options);
    }
    Store.call(this);
    var file = options && options.sessionFile;
    if (typeof file !== 'string' || file === '') {
      throw new Error('session-store.js: sessionFile must be the path of a file');
    }
    this.file = file;
    this.sessions = {};
    if (fs.existsSync(file)) {
      var text = fs.readFileSync(file, 'utf8');
      if (text.trim() !== '') {
        this.sessions = JSON.parse(text);
      }
    }
  }
  util.inherits(FileStore, Store);

  FileStore.prototype._save = function () {
    var tmp = this.file + '.' + process.pid + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify(this.sessions));
    fs.renameSync(tmp, this.file);
  };

  // Returns the parsed session, or undefined when it is missing or expired (then it is removed).
  FileStore.prototype._load = function (sid) {
    var raw = this.sessions[sid];
    if (raw === undefined) {
      return undefined;
    }
    var sess = JSON.parse(raw);
    var expires = sess.cookie && sess.cookie.expires;
    if (expires && new Date(expires) <= new Date()) {
      delete this.sessions[sid];
      this._save();
      return undefined;
    }
    return sess;
  };

  FileStore.prototype.get = function (sid, cb) {
    var sess;
    try {
      sess = this._load(sid);
    } catch (err) {
      return defer(cb, err);
    }
    defer(cb, null, sess);
  };

  FileStore.prototype.set = function (sid, sess, cb) {
    try {
      this.sessions[sid] = JSON.stringify(sess);
      this._save();
    } catch (err) {
      return defer(cb, err);
    }
    defer(cb, null);
  };

  FileStore.prototype.touch = function (sid, sess, cb) {
    var current;
    try {
      current = this._load(sid);
      if (current) {
        current.cookie = sess.cookie;
        this.sessions[sid] = JSON.stringify(current);
        this._save();
      }
    } catch (err) {
      return defer(cb, err);
    }
    defer(cb, null);
  };

  FileStore.prototype.destroy = function (sid, cb) {
    try {
      delete this.sessions[sid];
      this._save();
    } catch (err) {
      return defer(cb, err);
    }
    defer(cb, null);
  };

  FileStore.prototype.clear = function (cb) {
    try {
      this.sessions = {};
      this._save();
    } catch (err) {
      return defer(cb, err);
    }
    defer(cb, null);
  };

  FileStore.prototype.length = function (cb) {
    defer(cb, null, Object.keys(this.sessions).length);
  };

  return FileStore;
};

// Calls cb asynchronously, as the memory store does.
function defer(cb) {
  if (typeof cb !== 'function') {
    return;
  }
  var args = Array.prototype.slice.call(arguments, 1);
  setImmediate(function () { cb.apply(undefined, args); });
}
