// As the Web App template: forgets req.session.userId; 200 to a socket or an XHR, else a redirect.
module.exports = {
  friendlyName: 'Logout',
  exits: {
    success: {description: 'Logged out.'},
    redirect: {responseType: 'redirect'}
  },
  fn: async function () {
    delete this.req.session.userId;
    if (!this.req.wantsJSON) {
      throw {redirect: '/login'};
    }
  }
};
