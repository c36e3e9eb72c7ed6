// The same SAILSIO_* socket settings as the other test app (../../app/config/sockets.js); as there,
// Sails' default transports (websocket only) unless SAILSIO_TRANSPORTS says otherwise. The Web App
// template leaves config/sockets.js commented out, i.e. at those defaults.
module.exports = require('../../app/config/sockets.js');
