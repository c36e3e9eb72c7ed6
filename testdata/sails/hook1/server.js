// Lifts the shared test app (../app) with the sails, sails-hook-sockets,
// sails-hook-orm and sails-disk installed in this directory's node_modules.
// See ../README.md.
'use strict';
require('../app/lift.js')(__dirname);
