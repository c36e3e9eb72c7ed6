// The routes of the Web App template that matter to a socket client: a page, the entrance API,
// logout; plus a protected model (Thing) through two blueprint actions, /version and /session.
module.exports.routes = {
  'GET /': {action: 'view-homepage'},

  // No verb, as in the template: GET over a socket, POST from a form.
  '/api/v1/account/logout': {action: 'account/logout'},
  'PUT /api/v1/entrance/login': {action: 'entrance/login'},
  'POST /api/v1/entrance/signup': {action: 'entrance/signup'},

  'GET /thing': {action: 'thing/find'},
  'POST /thing': {action: 'thing/create'},

  // The harness's own routes.
  'GET /version': {action: 'version'},
  'GET /session': {action: 'session'}
};
