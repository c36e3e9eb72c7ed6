// As the Web App template: no automatic REST or shortcut routes. The blueprint actions of the
// models (thing/create, thing/find ...) still exist; config/routes.js routes to two of them.
module.exports.blueprints = {
  actions: false,
  rest: false,
  shortcuts: false
};
