// Allows the request only when the x-api-key header is "letmein".
module.exports = function hasApiKey(req, res, proceed) {
  if (req.headers['x-api-key'] === 'letmein') {
    return proceed();
  }
  return res.forbidden({error: 'no key'});
};
