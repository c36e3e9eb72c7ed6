module.exports.models = {
  // The datastore is in memory, so every lift starts empty.
  migrate: 'drop',
  attributes: {
    createdAt: {type: 'number', autoCreatedAt: true},
    updatedAt: {type: 'number', autoUpdatedAt: true},
    id: {type: 'number', autoIncrement: true}
  },
  dataEncryptionKeys: {
    default: 'c2FpbHNpby1nby10ZXN0LWtleS0wMDAwMDAwMDAwMDA='
  },
  cascadeOnDestroy: true
};
