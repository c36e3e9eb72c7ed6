// As the Web App template: creates the user and logs it in (req.session.userId); 409 when the
// email address is taken, 400 on invalid inputs.
var password = require('../../../lib/password');

module.exports = {
  friendlyName: 'Signup',
  inputs: {
    emailAddress: {type: 'string', required: true, isEmail: true},
    password: {type: 'string', required: true, maxLength: 200},
    fullName: {type: 'string', required: true}
  },
  exits: {
    success: {description: 'Signed up and logged in.'},
    invalid: {responseType: 'badRequest'},
    emailAlreadyInUse: {statusCode: 409, description: 'The email address is already in use.'}
  },
  fn: async function (inputs) {
    var User = this.req._sails.models.user;
    var user = await User.create({
      emailAddress: inputs.emailAddress.toLowerCase(),
      password: password.hash(inputs.password),
      fullName: inputs.fullName
    })
    .intercept('E_UNIQUE', 'emailAlreadyInUse')
    .intercept({name: 'UsageError'}, 'invalid')
    .fetch();
    this.req.session.userId = user.id;
  }
};
