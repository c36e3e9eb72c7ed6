module.exports = {
  attributes: {
    name: {type: 'string'}
  }
};
