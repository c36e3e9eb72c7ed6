// REST blueprints for Pet (GET/POST /pet, GET/PATCH/DELETE /pet/:id) with pub/sub:
// a socket GET /pet watches the model (autoWatch), so creations by other sockets
// are pushed to it as 42["pet",{"verb":"created",...}].
module.exports.blueprints = {
  actions: false,
  rest: true,
  shortcuts: false,
  autoWatch: true
};
