// sails-disk, in memory only: nothing is written to disk.
module.exports.datastores = {
  default: {
    adapter: 'sails-disk',
    inMemoryOnly: true
  }
};
