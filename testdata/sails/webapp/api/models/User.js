// A user account, as in the Web App template (fewer attributes). The password is stored hashed
// (see api/controllers/entrance/signup.js).
module.exports = {
  attributes: {
    emailAddress: {type: 'string', required: true, unique: true, isEmail: true, maxLength: 200},
    password: {type: 'string', required: true, protect: true},
    fullName: {type: 'string', required: true, maxLength: 120}
  }
};
