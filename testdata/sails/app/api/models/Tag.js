// A tag: a model with `schema: true`, as every model of an app made by `sails new` (Web App
// template, config/models.js) is. Attributes the model does not declare are dropped on create
// and update, and the blueprints' `select` and `omit` work (Pet, schema: false, refuses them).
module.exports = {
  schema: true,
  attributes: {
    name: {type: 'string', required: true},
    rank: {type: 'number'}
  }
};
