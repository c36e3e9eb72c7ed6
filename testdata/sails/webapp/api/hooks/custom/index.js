// The part of the Web App template's custom hook that matters here: before every route, the user
// whose id the session holds (req.session.userId, set by login and signup) becomes req.me.
// The app is lifted as a `new Sails()` without globals, so models are reached through `sails`.
module.exports = function defineCustomHook(sails) {
  return {
    routes: {
      before: {
        '/*': {
          skipAssets: true,
          fn: async function (req, res, next) {
            if (req.method === 'GET' || req.method === 'HEAD') {
              res.locals.me = undefined;
            }
            if (!req.session || !req.session.userId) {
              return next();
            }
            var user = await sails.models.user.findOne({id: req.session.userId});
            if (!user) {
              // The user is gone (a database without it): forget it, as the template does.
              delete req.session.userId;
              return res.unauthorized();
            }
            req.me = user;
            if (req.method === 'GET') {
              res.locals.me = {id: user.id, emailAddress: user.emailAddress, fullName: user.fullName};
            }
            return next();
          }
        }
      }
    }
  };
};
