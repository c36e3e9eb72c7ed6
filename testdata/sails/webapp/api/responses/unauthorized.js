// As the Web App template: 401 with no body for a request that wants JSON (every socket request
// does), else forget the user and redirect to the login page.
module.exports = function unauthorized() {
  var req = this.req;
  var res = this.res;
  if (req.wantsJSON) {
    return res.sendStatus(401);
  }
  if (req.session && req.session.userId) {
    delete req.session.userId;
  }
  return res.redirect('/login');
};
