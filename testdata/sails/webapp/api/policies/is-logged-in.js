// As the Web App template: lets the request through when api/hooks/custom found its user (req.me),
// else answers res.unauthorized() (401 to a socket or an XHR).
module.exports = async function (req, res, proceed) {
  if (req.me) {
    return proceed();
  }
  return res.unauthorized();
};
