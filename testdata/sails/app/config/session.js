// Memory store (no adapter), fixed secret: this is a test server.
module.exports.session = {
  secret: 'sailsio-go-test-secret',
  cookie: {
    maxAge: 24 * 60 * 60 * 1000
  }
};
