// Explicit routes; each works over HTTP and over sockets (virtual requests).
module.exports.routes = {
  '/echo': 'HarnessController.echo',
  'GET /status/:code': 'HarnessController.status',
  'GET /slow': 'HarnessController.slow',
  'GET /big': 'HarnessController.big',
  'POST /size': 'HarnessController.size',
  'POST /login': 'HarnessController.login',
  'GET /me': 'HarnessController.me',
  'GET /count': 'HarnessController.count',
  'GET /secret': 'HarnessController.secret',
  'POST /rooms/:room/join': 'HarnessController.join',
  'POST /rooms/:room/leave': 'HarnessController.leave',
  'POST /rooms/:room/say': 'HarnessController.say',
  'POST /blast': 'HarnessController.blast',
  'POST /kick': 'HarnessController.kick',
  'GET /redirect': 'HarnessController.redirect',
  'GET /version': 'HarnessController.version',
  'POST /seq': 'HarnessController.seq',
  'GET /seq': 'HarnessController.seqList',
  'GET /jsonstring': 'HarnessController.jsonString',
  'GET /headercase': 'HarnessController.headerCase',
  'r|^/re/(\\d+)/(\\w+)$|num,word': 'HarnessController.regexp'
};
