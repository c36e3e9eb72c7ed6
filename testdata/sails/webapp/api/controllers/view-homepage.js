// GET /: the homepage, rendered with the layout; the page exposes its locals (the CSRF token
// among them) as window.SAILS_LOCALS, as the Web App template's pages do.
module.exports = {
  friendlyName: 'View homepage',
  exits: {
    success: {viewTemplatePath: 'pages/homepage'}
  },
  fn: async function () {
    return {};
  }
};
