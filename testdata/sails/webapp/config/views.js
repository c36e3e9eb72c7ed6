// As the Web App template: EJS views, layout in views/layouts/layout.ejs.
module.exports.views = {
  extension: 'ejs',
  layout: 'layouts/layout'
};
