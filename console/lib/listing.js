// What the scheme administrator's, auditor's and administrator's pages share: reference data
// and labels, API errors mapped onto inputs, dates typed DD-MM-YYYY, small forms, and lists
// whose filters live in the hash (links are shareable, Back works) with keyset paging.

import * as api from '../api.js';
import { asciiDigits, local, t } from '../i18n.js';
import { dateToIso, isoToDate, maskDate } from './fields.js';
import { schemeCatalogue } from './schemes.js';
import { ErrorSummary, Field, LoadError, Loading, Table, fieldErrors, html, inputId, problemText, useEffect, useRef, useState } from './ui.js';

export const REFERRAL_STATUSES = ['referred', 'acknowledged', 'enrolled', 'rejected', 'withdrawn', 'expired'];
export const refStatusLabel = (s) => t(`status.${s}`);
export const roleLabel = (r) => t(`role.${r}`);

/** Whether the catalogues define `key`. */
export function has(key) {
  return t(key) !== key;
}

/** A 422 problem's errors as ErrorSummary items: our words for the codes we know, else the server's. */
function problemErrors(err, labels = {}) {
  return fieldErrors(err?.problem || err).map((e) => ({
    ...e,
    message: has(`roles.code.${e.code}`) ? t(`roles.code.${e.code}`) : e.message || e.code,
    label: labels[e.path] || '',
  }));
}

/**
 * An API error as form errors: a 422's field errors at `prefix.<field>` (or at `prefix(field)`,
 * or all at `fallback` without a prefix); anything else, or a 422 naming no field, at `fallback`
 * without a label (it is about the request, not the input).
 */
export function formErrors(err, fallback, prefix) {
  const place = typeof prefix === 'function' ? prefix : prefix ? (p) => `${prefix}.${p}` : () => fallback;
  const list = err.status === 422 ? problemErrors(err).map((x) => ({ ...x, path: place(x.path) })) : [];
  return list.length ? list : [{ path: fallback, label: '', message: problemText(err) }];
}

let districtsPromise = null;
/** Every district (active or not), loaded once; `forgetDistricts` after a change. */
function districtList() {
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
function DateField({ onInput, hint, ...rest }) {
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

/** A definition list of `[term, value]` pairs. */
export function Summary({ items, testid }) {
  return html`<dl class="summary-list" data-testid=${testid}>${items.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`)}</dl>`;
}

/** A section (`id`) named by its heading (`${id}-title`). */
export function Section({ id, title, children, ...rest }) {
  return html`<section id=${id} aria-labelledby=${`${id}-title`} ...${rest}><h2 id=${`${id}-title`}>${title}</h2>${children}</section>`;
}

/** A group of checkboxes (fieldset + legend) with hint and error; the first box carries the path's id. */
function CheckGroup({ path, legend, hint, error, options, value, onChange, testid, required }) {
  const id = inputId(path);
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return html`<fieldset class=${`field check-group${error ? ' field-error' : ''}`} aria-describedby=${describedBy}>
    <legend>${legend}${required ? html` <span class="req" aria-hidden="true">*</span>` : null}</legend>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('error.prefix')} </span>${error}</p>` : null}
    <div class="check-grid">
      ${options.map(([val, text], i) => {
        const boxId = i === 0 ? id : `${id}-${val}`;
        const others = value.filter((x) => x !== val);
        return html`<div class="check">
          <input type="checkbox" id=${boxId} name=${path} value=${val} checked=${value.includes(val)}
            aria-invalid=${error ? 'true' : undefined} data-testid=${`${testid}-${val}`}
            onChange=${(e) => onChange(e.target.checked ? [...others, val] : others)} />
          <label for=${boxId}>${text}</label>
        </div>`;
      })}
    </div>
  </fieldset>`;
}

/** Sets the page's hash query (empty values left out): filters are links, Back works. */
export function go(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false)).toString();
  const target = `#${path}${q ? `?${q}` : ''}`;
  if (location.hash !== target) location.hash = target;
}

/**
 * A form's values, its errors and a busy flag. `run` sends: busy meanwhile, and an error it
 * throws lands on the form (`onError` turns it into errors, see `formErrors`). Errors are
 * labelled by path from the fields `Form` shows.
 */
export function useForm(initial) {
  const [form, setForm] = useState(initial);
  const [errors, setRawErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const labels = useRef({});
  const setErrors = (list) => setRawErrors(list.map((e) => ({ ...e, label: e.label ?? labels.current[e.path] ?? '' })));
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
    labels,
  };
}

/**
 * Inputs from descriptions `{name, kind, label, hint, fallback, suggest, ...attributes}`, at
 * paths `${prefix}.${name}`: `kind` 'date' (typed DD-MM-YYYY), 'checks' (a CheckGroup of
 * `options`), or a Field kind; `suggest`: values offered in a datalist; `fallback`: the value
 * an emptied select stands for.
 */
function Inputs({ fields, prefix, form, set, errors }) {
  return fields.map(({ name, kind, fallback, suggest, ...attrs }) => {
    const path = `${prefix}.${name}`;
    const props = { ...attrs, path, value: form[name], error: errors.find((e) => e.path === path)?.message };
    if (kind === 'checks') return html`<${CheckGroup} ...${props} legend=${attrs.label} onChange=${set(name)} />`;
    const Input = kind === 'date' ? DateField : Field;
    return html`<${Input} ...${props} kind=${kind} onInput=${(v) => set(name)(v || fallback)} list=${suggest ? `${path}-list` : undefined} />
      ${suggest ? html`<datalist id=${`${path}-list`}>${suggest.map((v) => html`<option value=${v} />`)}</datalist>` : null}`;
  });
}

/** A form (`useForm`) of described inputs (see `Inputs`): the error summary first, `children` (its buttons) last. */
export function Form({ f, prefix, fields, onSubmit, children, ...rest }) {
  f.labels.current = Object.fromEntries(fields.map((x) => [`${prefix}.${x.name}`, x.label]));
  return html`<form onSubmit=${onSubmit} novalidate ...${rest}>
    <${ErrorSummary} errors=${f.errors} />
    <${Inputs} fields=${fields} prefix=${prefix} form=${f.form} set=${f.set} errors=${f.errors} />
    ${children}
  </form>`;
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

const filterKey = (fields, query) => fields.map((f) => query[f.name] || '').join('|');

/**
 * A filter form whose values live in the hash's query. `fields`: see `Inputs` (a typed date is
 * checked before the link changes; a `fallback` value is left out of the link). `refusedBy`: the
 * API's refusal (400, 422) of the filters, shown at their inputs with what was typed kept.
 */
export function useFilterForm({ path, prefix, query, fields, extra, refusedBy }) {
  const key = filterKey(fields, query);
  const fromQuery = () => Object.fromEntries(fields.map((f) => [f.name, f.kind === 'date' ? isoToDate(query[f.name] || '') : query[f.name] || f.fallback || '']));
  const [form, setForm] = useState(fromQuery);
  const [typed, setTyped] = useState([]);
  // Back or a new link: the filters shown are the link's, so earlier complaints go.
  useEffect(() => {
    setForm(fromQuery());
    setTyped([]);
  }, [key]);
  const labels = Object.fromEntries(fields.map((f) => [f.name, f.label]));
  const refused = [400, 422].includes(refusedBy?.status) ? problemErrors(refusedBy, labels).map((e) => ({ ...e, path: `${prefix}.${e.path}` })) : [];
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
  return { form, set, errors: typed.length ? typed : refused, refused, apply, prefix, filtered: fields.some((f) => query[f.name]) };
}

/** A filter form (see `useFilterForm`) and the keyset-paged list it selects: `load(cursor)` asks for a page. */
export function useListing({ load, ...options }) {
  const list = usePaged(load, [filterKey(options.fields, options.query)]);
  return { ...useFilterForm({ ...options, refusedBy: list.error }), list };
}

/** The filter form (`useFilterForm`, `useListing`): error summary, one input per field, then `children` (its buttons). */
export function Filters({ filters, fields, children }) {
  return html`<form class="filters" role="search" onSubmit=${filters.apply} novalidate>
    <${ErrorSummary} errors=${filters.errors} />
    <${Inputs} fields=${fields} prefix=${filters.prefix} form=${filters.form} set=${filters.set} errors=${filters.errors} />
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
