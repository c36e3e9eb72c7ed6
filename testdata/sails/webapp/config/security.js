// As `sails new` with the Web App template: CSRF protection on, for HTTP and virtual requests alike.
module.exports.security = {
  csrf: true
};
