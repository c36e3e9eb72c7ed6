// An owner of pets: a one-way `pets` collection (no `via`), so that the blueprints bind
// PUT /owner/:id/pets/:fk (add) and DELETE /owner/:id/pets/:fk (remove) and publish
// "addedTo" and "removedFrom" on the `owner` event. Pet itself is unchanged (its records
// carry no association).
module.exports = {
  attributes: {
    name: {type: 'string', required: true},
    pets: {collection: 'pet'}
  }
};
