// Password hashing with Node's crypto (the Web App template uses a bcrypt helper; this app adds no
// npm package): "scrypt$<salt>$<hash>", hex. Outside api/, which Sails would load as actions.
var crypto = require('crypto');

exports.hash = function (password) {
  var salt = crypto.randomBytes(16);
  return 'scrypt$' + salt.toString('hex') + '$' + crypto.scryptSync(password, salt, 32).toString('hex');
};

exports.check = function (password, stored) {
  var parts = String(stored).split('$');
  if (parts.length !== 3 || parts[0] !== 'scrypt') {
    return false;
  }
  var want = Buffer.from(parts[2], 'hex');
  var got = crypto.scryptSync(password, Buffer.from(parts[1], 'hex'), want.length);
  return crypto.timingSafeEqual(got, want);
};
