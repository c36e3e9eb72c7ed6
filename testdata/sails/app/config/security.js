module.exports.security = {
  csrf: false
};
