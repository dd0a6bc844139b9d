// What the scheme administrator's, auditor's and administrator's pages share: reference data
// and labels, API errors mapped onto inputs, dates typed DD-MM-YYYY, small forms, and filters
// that live in the hash (links are shareable, Back works). Paged lists: paged.js.

import * as api from '../api.js';
import { asciiDigits, dateToIso, isoToDate, local, maskDate, t } from '../i18n.js';
import { schemeCatalogue } from './schemes.js';
import { ErrorSummary, Field, fieldErrors, html, problemText, useEffect, useRef, useState } from './ui.js';

export const roleLabel = (r) => t(`role.${r}`);

/** A 422 problem's errors as ErrorSummary items: our words for the codes we know, else the server's. */
const problemErrors = (err, labels = {}) => fieldErrors(err?.problem || err, 'roles.code').map((e) => ({ ...e, label: labels[e.path] || '' }));

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

/** A definition list of `[term, value]` pairs (a falsy item is left out). */
export function Summary({ items, testid }) {
  return html`<dl class="summary-list" data-testid=${testid}>${items.filter(Boolean).map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`)}</dl>`;
}

/** A section (`id`) named by its heading (`${id}-title`). */
export function Section({ id, title, children, ...rest }) {
  return html`<section id=${id} aria-labelledby=${`${id}-title`} ...${rest}><h2 id=${`${id}-title`}>${title}</h2>${children}</section>`;
}

/** Sets the page's hash query (empty values left out): filters are links, Back works. */
export function go(path, query) {
  const target = `#${path}${api.query(query)}`;
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
 * Inputs from descriptions `{name, kind, label, hint, fallback, suggest, as, ...attributes}`, at
 * paths `${prefix}.${name}`: `kind` 'date' (typed DD-MM-YYYY) or a Field kind; `as`: another
 * input component (the same props as Field); `suggest`: values offered in a datalist;
 * `fallback`: the value an emptied select stands for.
 */
function Inputs({ fields, prefix, form, set, errors }) {
  return fields.map(({ name, kind, fallback, suggest, as, ...attrs }) => {
    const path = `${prefix}.${name}`;
    const Input = as || (kind === 'date' ? DateField : Field);
    return html`<${Input} ...${attrs} path=${path} value=${form[name]} error=${errors.find((e) => e.path === path)?.message}
      kind=${kind} onInput=${(v) => set(name)(v || fallback)} list=${suggest ? `${path}-list` : undefined} />
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

export const filterKey = (fields, query) => fields.map((f) => query[f.name] || '').join('|');

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

/** The filter form (`useFilterForm`, `useListing`): error summary, one input per field, then `children` (its buttons). */
export function Filters({ filters, fields, children }) {
  return html`<form class="filters" role="search" onSubmit=${filters.apply} novalidate>
    <${ErrorSummary} errors=${filters.errors} />
    <${Inputs} fields=${fields} prefix=${filters.prefix} form=${filters.form} set=${filters.set} errors=${filters.errors} />
    <div class="filter-actions">${children}</div>
  </form>`;
}

