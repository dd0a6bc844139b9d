// The scheme catalogue's names (from the rule files, in both languages), loaded once per
// rule version and shared by the pages that show scheme ids.

import * as api from '../api.js';

let cache = null;

/** `{scheme_id: {en, ur}}` for every scheme in the catalogue. */
export async function schemeNames() {
  if (!cache) {
    cache = api.all('/api/v1/schemes').then(
      (items) => Object.fromEntries(items.map((s) => [s.id, s.name])),
      (e) => {
        cache = null;
        throw e;
      },
    );
  }
  return cache;
}

/** The full catalogue entry of each scheme (documents, office, department). */
let full = null;
export async function schemeCatalogue() {
  if (!full) {
    full = api.all('/api/v1/schemes').then(
      (items) => Object.fromEntries(items.map((s) => [s.id, s])),
      (e) => {
        full = null;
        throw e;
      },
    );
  }
  return full;
}
