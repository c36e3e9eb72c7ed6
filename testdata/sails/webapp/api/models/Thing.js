// A model only logged-in users reach (config/policies.js), through its blueprint actions
// (config/routes.js: GET /thing, POST /thing). With schema: true, undeclared attributes are dropped.
module.exports = {
  attributes: {
    name: {type: 'string', required: true}
  }
};
