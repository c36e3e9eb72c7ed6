// GET /version: the versions actually loaded (see ../../app/lift.js).
module.exports = {
  friendlyName: 'Version',
  fn: async function () {
    return this.req._sails.config.custom.versions;
  }
};
