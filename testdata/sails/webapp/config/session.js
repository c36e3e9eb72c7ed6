// Memory store (no adapter), fixed secret: a restart loses every session, as with a Web App that
// keeps Sails' default store.
module.exports.session = {
  secret: 'sailsio-go-webapp-secret',
  cookie: {
    maxAge: 24 * 60 * 60 * 1000
  }
};
