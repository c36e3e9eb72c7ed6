// As the Web App template: checks the email and password and stores the user's id in the session
// (req.session.userId); a bad combination answers res.unauthorized() (401 to a socket).
var password = require('../../../lib/password');

module.exports = {
  friendlyName: 'Login',
  inputs: {
    emailAddress: {type: 'string', required: true},
    password: {type: 'string', required: true}
  },
  exits: {
    success: {description: 'Logged in.'},
    badCombo: {responseType: 'unauthorized'}
  },
  fn: async function (inputs) {
    var user = await this.req._sails.models.user.findOne({emailAddress: inputs.emailAddress.toLowerCase()});
    if (!user || !password.check(inputs.password, user.password)) {
      throw 'badCombo';
    }
    this.req.session.userId = user.id;
  }
};
