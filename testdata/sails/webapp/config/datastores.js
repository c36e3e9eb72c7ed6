// sails-disk. With SAILSIO_DATA_DIR set, records are kept in files in that directory, so that they
// survive a restart of the server (the sessions, in memory, do not); otherwise in memory only.
var dir = process.env.SAILSIO_DATA_DIR;
module.exports.datastores = {
  default: dir ? {adapter: 'sails-disk', dir: require('path').resolve(dir)} : {adapter: 'sails-disk', inMemoryOnly: true}
};
