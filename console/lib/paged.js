// Lists read a page at a time (keyset paging, "more"), alone or selected by a filter form
// whose values live in the hash: the auditor's, scheme administrator's and administrator's
// lists (and the referral statuses their filters offer).

import { t } from '../i18n.js';
import { filterKey, useFilterForm } from './listing.js';
import { LoadError, Loading, Table, html, useEffect, useState } from './ui.js';

/** A referral's statuses, as the lists' filters offer them. */
export const REFERRAL_STATUSES = ['referred', 'acknowledged', 'enrolled', 'rejected', 'withdrawn', 'expired'];
export const refStatusLabel = (s) => t(`status.${s}`);

/** Keyset paging: the first page on every change of `deps`, then "more". */
export function usePaged(fetchPage, deps) {
  const empty = { items: null, next: null, error: null, busy: true, moreError: null };
  const [s, setS] = useState(empty);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setS(empty);
    fetchPage(null).then(
      (p) => live && setS({ ...empty, items: p.items || [], next: p.next_cursor || null, busy: false }),
      (error) => live && setS({ ...empty, error, busy: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  const more = async () => {
    if (!s.next) return;
    setS((x) => ({ ...x, busy: true, moreError: null }));
    try {
      const p = await fetchPage(s.next);
      setS((x) => ({ ...x, items: [...x.items, ...(p.items || [])], next: p.next_cursor || null, busy: false }));
    } catch (e) {
      setS((x) => ({ ...x, busy: false, moreError: e }));
    }
  };
  const update = (fn) => setS((x) => ({ ...x, items: fn(x.items || []) }));
  return { ...s, more, update, reload: () => setN((x) => x + 1) };
}

/** A filter form (see `useFilterForm`) and the keyset-paged list it selects: `load(cursor)` asks for a page. */
export function useListing({ load, ...options }) {
  const list = usePaged(load, [filterKey(options.fields, options.query)]);
  return { ...useFilterForm({ ...options, refusedBy: list.error }), list };
}

/**
 * A paged list: its load error (unless shown at the filters), the count (`${name}-count`),
 * the table and "more" (`${name}-more`).
 */
export function PagedTable({ list, name, count, refused = [], ...table }) {
  if (list.error && !refused.length) return html`<${LoadError} error=${list.error} retry=${list.reload} />`;
  if (!list.items) return list.error ? null : html`<${Loading} />`;
  return html`<p role="status" data-testid=${`${name}-count`}>${count}${list.next ? ` ${t('roles.more_exist')}` : ''}</p>
    <${Table} ...${table} />
    ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
    ${list.next
      ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid=${`${name}-more`}>${t('common.more')}</button>`
      : null}`;
}
