// What the scheme administrator's, auditor's and administrator's pages share: reference data
// and labels, API errors mapped onto inputs, dates typed DD-MM-YYYY, small forms, and lists
// whose filters live in the hash (links are shareable, Back works) with keyset paging.

import * as api from '../api.js';
import { asciiDigits, local, t } from '../i18n.js';
import { dateToIso, isoToDate, maskDate } from './fields.js';
import { schemeCatalogue } from './schemes.js';
import { ErrorSummary, Field, LoadError, Loading, Table, fieldErrors, html, problemText, useEffect, useState } from './ui.js';

export { isoToDate };

export const REFERRAL_STATUSES = ['referred', 'acknowledged', 'enrolled', 'rejected', 'withdrawn', 'expired'];
export const refStatusLabel = (s) => t(`status.${s}`);
export const roleLabel = (r) => t(`role.${r}`);

/** Whether the catalogues define `key`. */
export function has(key) {
  return t(key) !== key;
}

/** A 422 problem's errors as ErrorSummary items: our words for the codes we know, else the server's. */
export function problemErrors(err, labels = {}) {
  return fieldErrors(err?.problem || err).map((e) => ({
    ...e,
    message: has(`roles.code.${e.code}`) ? t(`roles.code.${e.code}`) : e.message || e.code,
    label: labels[e.path] || '',
  }));
}

/**
 * An API error as form errors: a 422's field errors at `prefix.<field>` (or at `prefix(field)`,
 * or all at `fallback` without a prefix); anything else, or a 422 naming no field, at `fallback`.
 */
export function formErrors(err, fallback, prefix) {
  const place = typeof prefix === 'function' ? prefix : prefix ? (p) => `${prefix}.${p}` : () => fallback;
  const list = err.status === 422 ? problemErrors(err).map((x) => ({ ...x, path: place(x.path) })) : [];
  return list.length ? list : [{ path: fallback, message: problemText(err) }];
}

let districtsPromise = null;
/** Every district (active or not), loaded once; `forgetDistricts` after a change. */
export function districtList() {
  districtsPromise ||= api.get('/api/v1/districts').then(
    (items) => (Array.isArray(items) ? items : items.items || []),
    (e) => {
      districtsPromise = null;
      throw e;
    },
  );
  return districtsPromise;
}
export function forgetDistricts() {
  districtsPromise = null;
}

/** Districts and schemes for filters and labels (null when they cannot be loaded). */
export async function reference() {
  try {
    const [districts, schemes] = await Promise.all([districtList(), schemeCatalogue()]);
    return {
      districts,
      district: Object.fromEntries(districts.map((d) => [d.code, d])),
      schemes: Object.values(schemes).sort((a, b) => a.id.localeCompare(b.id)),
      scheme: schemes,
    };
  } catch {
    return null;
  }
}

/** A scheme's name in the current language (its id while the catalogue is loading). */
export function schemeName(ref, id) {
  const s = ref?.scheme?.[id];
  return s ? local(s.name) : id;
}

/** A district's display name (its code when unknown). */
export function districtName(ref, code) {
  return ref?.district?.[code]?.name || code;
}

/** Select options of districts (`all` first), only those in `only` when it names any. */
export function districtOptions(ref, allLabel, only) {
  const list = (ref?.districts || []).filter((d) => !only?.length || only.includes(d.code));
  return [['', allLabel], ...list.map((d) => [d.code, d.name])];
}

/** Today in Pakistan, `YYYY-MM-DD`. */
export function todayPk() {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Karachi', year: 'numeric', month: '2-digit', day: '2-digit' });
  return format.format(new Date());
}

/** Whole days from today (Pakistan) to `iso` (negative: in the past). */
export function daysFromToday(iso) {
  return Math.round((Date.parse(`${String(iso).slice(0, 10)}T00:00:00Z`) - Date.parse(`${todayPk()}T00:00:00Z`)) / 86400000);
}

/** A date typed as DD-MM-YYYY (digits in either script): `YYYY-MM-DD`, '' when empty. */
export function isoOf(text) {
  const s = asciiDigits(text || '').trim();
  return s ? dateToIso(s) : '';
}

/** Whether a typed date is a real date (empty is fine). */
export function dateOk(text) {
  const iso = isoOf(text);
  if (!iso) return true;
  const d = new Date(`${iso}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(iso) && !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
}

/** A date input (DD-MM-YYYY as typed; digits in either script). */
export function DateField({ onInput, hint, ...rest }) {
  return html`<${Field} ...${rest} kind="text" hint=${hint || t('hint.date')} onInput=${(v) => onInput(maskDate(v))}
    dir="ltr" inputmode="numeric" placeholder="DD-MM-YYYY" autocomplete="off" maxlength="10" />`;
}

const MARKS = { good: 'M5 12l4 4 10-10', bad: 'M6 6l12 12M18 6L6 18', warn: 'M12 6v8M12 17v1', neutral: 'M6 12h12' };

/** A state shown by word and icon (colour only adds to them). */
export function Mark({ kind, label, testid }) {
  return html`<span class=${`status mark-${kind}`} data-testid=${testid}>
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d=${MARKS[kind] || MARKS.neutral} /></svg>
    ${label}
  </span>`;
}

/** Sets the page's hash query (empty values left out): filters are links, Back works. */
export function go(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false)).toString();
  const target = `#${path}${q ? `?${q}` : ''}`;
  if (location.hash !== target) location.hash = target;
}

/**
 * A form's values, its errors (labelled from `labels` by path) and a busy flag. `run` sends:
 * busy meanwhile, and an error it throws lands on the form (see `formErrors`).
 */
export function useForm(initial, labels = {}) {
  const [form, setForm] = useState(initial);
  const [errors, setRawErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const setErrors = (list) => setRawErrors(list.map((e) => ({ ...e, label: e.label ?? labels[e.path] ?? '' })));
  const run = async (send, onError) => {
    setBusy(true);
    try {
      await send();
    } catch (e) {
      setErrors(onError(e));
    } finally {
      setBusy(false);
    }
  };
  return {
    form,
    setForm,
    set: (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' })),
    errors,
    setErrors,
    err: (path) => errors.find((e) => e.path === path)?.message,
    busy,
    run,
  };
}

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

/**
 * A list filtered by the hash's query. `fields`: the filters, `{name, label, kind, options,
 * hint, fallback, suggest, ...attributes}` (`kind: 'date'` for a typed date; `fallback`: the
 * value meant when the query has none, left out of the link). `load(query, cursor)` asks for
 * a page. Typed dates are checked before the link changes; the API's refusal (400, 422) is
 * shown at its inputs with what was typed kept.
 */
export function useListing({ path, prefix, query, fields, load, extra }) {
  const key = fields.map((f) => query[f.name] || '').join('|');
  const fromQuery = () => Object.fromEntries(fields.map((f) => [f.name, f.kind === 'date' ? isoToDate(query[f.name] || '') : query[f.name] || f.fallback || '']));
  const [form, setForm] = useState(fromQuery);
  const [typed, setTyped] = useState([]);
  // Back or a new link: the filters shown are the link's, so earlier complaints go.
  useEffect(() => {
    setForm(fromQuery());
    setTyped([]);
  }, [key]);
  const list = usePaged((cursor) => load(query, cursor), [key]);
  const labels = Object.fromEntries(fields.map((f) => [f.name, f.label]));
  const refused = [400, 422].includes(list.error?.status) ? problemErrors(list.error, labels).map((e) => ({ ...e, path: `${prefix}.${e.path}` })) : [];
  const errors = typed.length ? typed : refused;
  const apply = (e) => {
    e.preventDefault();
    const bad = fields
      .filter((f) => f.kind === 'date' && !dateOk(form[f.name]))
      .map((f) => ({ path: `${prefix}.${f.name}`, label: f.label, message: t('roles.bad_date') }));
    setTyped(bad);
    if (bad.length) return;
    const value = (f, v = form[f.name] || '') => (f.kind === 'date' ? isoOf(v) : v === f.fallback ? '' : v.trim());
    go(path, { ...extra, ...Object.fromEntries(fields.map((f) => [f.name, value(f)])) });
  };
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  return { form, set, list, errors, refused, apply, prefix, filtered: fields.some((f) => query[f.name]) };
}

/** The filter form of a listing: error summary, one input per field, then `children` (its buttons). */
export function Filters({ listing, fields, children }) {
  const { form, set, errors, apply, prefix } = listing;
  return html`<form class="filters" role="search" onSubmit=${apply} novalidate>
    <${ErrorSummary} errors=${errors} />
    ${fields.map(({ name, kind, fallback, suggest, ...rest }) => {
      const path = `${prefix}.${name}`;
      const Input = kind === 'date' ? DateField : Field;
      return html`<${Input} ...${rest} path=${path} kind=${kind} value=${form[name]} onInput=${(v) => set(name)(v || fallback)}
          error=${errors.find((e) => e.path === path)?.message} list=${suggest ? `${path}-list` : undefined} />
        ${suggest ? html`<datalist id=${`${path}-list`}>${suggest.map((v) => html`<option value=${v} />`)}</datalist>` : null}`;
    })}
    <div class="filter-actions">${children}</div>
  </form>`;
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
