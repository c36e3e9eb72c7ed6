module.exports.policies = {
  '*': true,
  HarnessController: {
    secret: 'hasApiKey'
  }
};
