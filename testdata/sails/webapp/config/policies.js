// As the Web App template: everything needs a logged-in user, except the entrance actions, logout
// and the homepage (and the harness's own /version and /session).
module.exports.policies = {
  '*': 'is-logged-in',
  'entrance/*': true,
  'account/logout': true,
  'view-homepage': true,
  'version': true,
  'session': true
};
