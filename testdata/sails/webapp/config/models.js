// As the Web App template: schema: true (undeclared attributes are dropped), numeric ids,
// timestamps. migrate: 'alter' keeps the records of a SAILSIO_DATA_DIR across restarts.
module.exports.models = {
  schema: true,
  migrate: 'alter',
  attributes: {
    createdAt: {type: 'number', autoCreatedAt: true},
    updatedAt: {type: 'number', autoUpdatedAt: true},
    id: {type: 'number', autoIncrement: true}
  },
  dataEncryptionKeys: {
    default: 'c2FpbHNpby1nby13ZWJhcHAta2V5LTAwMDAwMDAwMDA='
  },
  cascadeOnDestroy: true
};
