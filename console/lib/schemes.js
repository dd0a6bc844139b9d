// The scheme catalogue (from the rule files, in both languages), loaded once and shared by
// the pages that show scheme ids; forgotten after a rules reload.

import * as api from '../api.js';

let full = null;

/** `{scheme_id: catalogue entry}` (name, department, documents, office, …). */
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

/** Drops the cached catalogue (the rules were reloaded). */
export function forgetSchemes() {
  full = null;
}
