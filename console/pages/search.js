// The clerk's home: one box for a member's ID number, a household number or the start of a
// name in either script. The query is kept in the tab's session storage, not in the link: an
// ID number must not end up in the browser's history on a shared office PC. Back to this
// page shows the last results again.

import * as api from '../api.js';
import { asciiDigits, ltr, showTime, t } from '../i18n.js';
import { loadDraft, saveDraft } from '../lib/drafts.js';
import { Field, LoadError, Loading, PageTitle, Table, html, useEffect, useState } from '../lib/ui.js';

/** What the clerk typed, as the API's search parameters. */
export function searchParams(q) {
  const text = asciiDigits(q).trim();
  const digits = text.replace(/[\s-]/g, '');
  if (/^\d{13}$/.test(digits)) return { id_number: digits };
  if (/^[A-Za-z][A-Za-z-]*-\d{1,9}$/.test(text)) return { household_number: text.toUpperCase() };
  return { name: q.trim() };
}

export function SearchPage() {
  const initial = loadDraft('search') || '';
  const [q, setQ] = useState(initial);
  const [state, setState] = useState({ items: null, next: null, error: null, busy: false, query: '' });

  const run = async (text, cursor) => {
    if (!text.trim()) return;
    setState((s) => ({ ...s, busy: true, error: null }));
    try {
      const page = await api.get('/api/v1/households', { ...searchParams(text), limit: 25, cursor });
      setState((s) => ({
        items: cursor ? [...(s.items || []), ...page.items] : page.items,
        next: page.next_cursor,
        error: null,
        busy: false,
        query: text,
      }));
    } catch (error) {
      setState({ items: null, next: null, error, busy: false, query: text });
    }
  };
  useEffect(() => {
    if (initial) run(initial);
  }, [initial]);

  const submit = (e) => {
    e.preventDefault();
    saveDraft('search', q.trim());
    run(q);
  };
  const rows = (state.items || []).map((h) => [
    html`<a href=${`#/households/${h.id}`} data-testid="result-link">${ltr(h.household_number)}</a>`,
    html`<bdi>${h.head_name}</bdi>${h.head_name_ur ? html` · <bdi lang="ur" dir="rtl">${h.head_name_ur}</bdi>` : null}`,
    h.district,
    ltr(h.member_count),
    h.last_screened_at ? showTime(h.last_screened_at) : t('search.never'),
  ]);
  return html`<div>
    <${PageTitle} sub=${t('search.lead')}>${t('search.title')}</${PageTitle}>
    <form class="search-form" role="search" onSubmit=${submit}>
      <${Field} path="q" label=${t('search.box')} hint=${t('search.hint')} value=${q} onInput=${setQ}
        autocomplete="off" spellcheck="false" dir="auto" />
      <button class="button" type="submit" data-testid="search-submit">${t('search.submit')}</button>
      <a class="button secondary" href="#/households/new">${t('search.register')}</a>
    </form>
    <p class="shortcuts">${t('search.shortcut')}</p>
    ${state.error ? html`<${LoadError} error=${state.error} />` : null}
    ${state.busy && !state.items ? html`<${Loading} />` : null}
    ${state.items
      ? html`<section aria-labelledby="results-title">
          <h2 id="results-title">${t('search.results', { n: state.items.length })}</h2>
          <${Table} caption=${t('search.results_caption')} numeric=${[3]}
            head=${[t('household.number'), t('household.head'), t('field.district'), t('household.members'), t('search.last_screened')]}
            rows=${rows} empty=${t('search.none')} />
          ${state.next
            ? html`<button type="button" class="button secondary" onClick=${() => run(state.query, state.next)}>${t('common.more')}</button>`
            : null}
        </section>`
      : null}
  </div>`;
}
