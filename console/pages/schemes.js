// The scheme catalogue (`#/schemes`, every role) and one scheme (`#/schemes/{id}`): criteria
// with their labels in both languages, the rule text, the parameters in force at a date
// (`?as_of=YYYY-MM-DD`, asked of the API), documents, office and benefit.
//
// This module also holds the small helpers the scheme administrator's, auditor's and
// administrator's pages share (reference data, labels with fallbacks, filters kept in the
// hash, paged lists, dates typed DD-MM-YYYY).

import * as api from '../api.js';
import { asciiDigits, lang, local, ltr, showDate, t } from '../i18n.js';
import { dateToIso, isoToDate, maskDate } from '../lib/fields.js';
import { schemeCatalogue } from '../lib/schemes.js';
import { session } from '../lib/session.js';
import {
  ErrorSummary,
  Field,
  LoadError,
  Loading,
  PageTitle,
  Table,
  fieldErrors,
  html,
  useEffect,
  useLoad,
  useState,
} from '../lib/ui.js';

/* ------------------------------------------------------------------ shared helpers */

/** Whether the catalogues define `key`. */
export function has(key) {
  return t(key) !== key;
}

/** The text of `key`, or of `fallback` when the first is not defined (e.g. a core key). */
export function pick(key, fallback, params) {
  return has(key) ? t(key, params) : fallback === undefined ? key : t(fallback, params);
}

export const REFERRAL_STATUSES = ['referred', 'acknowledged', 'enrolled', 'rejected', 'withdrawn', 'expired'];

export const refStatusLabel = (s) => t(`status.${s}`);
export const guaranteeLabel = (g) => t(`guarantee.${g}`);
export const deptLabel = (d) => (has(`dept.${d}`) ? t(`dept.${d}`) : d);
export const roleLabel = (r) => t(`role.${r}`);

/** A field error's message: ours for the codes we know (both languages), else the server's. */
export function codeMessage(e) {
  const key = `roles.code.${e.code}`;
  return has(key) ? t(key) : e.message || e.code;
}

/** A 422 problem's errors as ErrorSummary items, labelled and translated. */
export function problemErrors(err, labels = {}) {
  return fieldErrors(err?.problem || err).map((e) => ({
    ...e,
    message: codeMessage(e),
    label: labels[e.path] || '',
  }));
}

let districtsPromise = null;
/** Every district (active or not), loaded once; `forgetDistricts` after a change. */
export function districtList() {
  if (!districtsPromise) {
    districtsPromise = api.get('/api/v1/districts').then(
      (items) => (Array.isArray(items) ? items : items.items || []),
      (e) => {
        districtsPromise = null;
        throw e;
      },
    );
  }
  return districtsPromise;
}
export function forgetDistricts() {
  districtsPromise = null;
}

/** Districts and schemes for filters and labels. */
export async function reference() {
  const [districts, schemes] = await Promise.all([districtList(), schemeCatalogue()]);
  return {
    districts,
    district: Object.fromEntries(districts.map((d) => [d.code, d])),
    schemes: Object.values(schemes).sort((a, b) => a.id.localeCompare(b.id)),
    scheme: schemes,
  };
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

/** Today in Pakistan, `YYYY-MM-DD`. */
export function todayPk() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Karachi', year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(),
  );
}

/** Whole days from today (Pakistan) to `iso` (negative: in the past). */
export function daysFromToday(iso) {
  const a = Date.parse(`${todayPk()}T00:00:00Z`);
  const b = Date.parse(`${String(iso).slice(0, 10)}T00:00:00Z`);
  return Math.round((b - a) / 86400000);
}

/** Sets the page's hash query (empty values left out): filters are links, Back works. */
export function go(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  const target = `#${path}${s ? `?${s}` : ''}`;
  if (location.hash !== target) location.hash = target;
}

/** Form state for filters kept in the hash; follows Back and Forward. */
export function useFilters(query, toForm) {
  const qs = JSON.stringify(query);
  const [form, setForm] = useState(() => toForm(query));
  useEffect(() => setForm(toForm(query)), [qs]);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  return [form, set, setForm];
}

/** A date typed as DD-MM-YYYY (any digits), `YYYY-MM-DD` for the API, '' when empty. */
export function isoOf(text) {
  const s = asciiDigits(text || '').trim();
  return s ? dateToIso(s) : '';
}
export { isoToDate };

/** Whether a typed date is well formed (empty is fine). */
export function dateOk(text) {
  const iso = isoOf(text);
  if (!iso) return true;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return false;
  const d = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
}

/** A date input (DD-MM-YYYY as typed; digits in either script). */
export function DateField(props) {
  const { onInput, ...rest } = props;
  return html`<${Field} ...${rest} hint=${props.hint || t('hint.date')} onInput=${(v) => onInput(maskDate(v))}
    dir="ltr" inputmode="numeric" placeholder="DD-MM-YYYY" autocomplete="off" maxlength="10" />`;
}

/** A select of districts (`all` first). */
export function districtOptions(ref, allLabel, only) {
  const list = (ref?.districts || []).filter((d) => !only || !only.length || only.includes(d.code));
  return [['', allLabel], ...list.map((d) => [d.code, d.name])];
}

/** Keyset paging: the first page on every change of `deps`, then "more". */
export function usePaged(fetchPage, deps) {
  const [s, setS] = useState({ items: null, next: null, error: null, busy: true, moreError: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setS({ items: null, next: null, error: null, busy: true, moreError: null });
    fetchPage(null).then(
      (p) => live && setS({ items: p.items || [], next: p.next_cursor || null, error: null, busy: false, moreError: null }),
      (e) => live && setS({ items: null, next: null, error: e, busy: false, moreError: null }),
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
      setS((x) => ({ ...x, items: [...(x.items || []), ...(p.items || [])], next: p.next_cursor || null, busy: false }));
    } catch (e) {
      setS((x) => ({ ...x, busy: false, moreError: e }));
    }
  };
  const update = (fn) => setS((x) => ({ ...x, items: fn(x.items || []) }));
  return { ...s, more, update, reload: () => setN((x) => x + 1) };
}

const MARKS = {
  good: 'M5 12l4 4 10-10',
  bad: 'M6 6l12 12M18 6L6 18',
  warn: 'M12 6v8M12 17v1',
  neutral: 'M6 12h12',
};

/** A state shown by word and icon (colour only adds to them). */
export function Mark({ kind, label, testid }) {
  return html`<span class=${`status mark-${kind}`} data-testid=${testid}>
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d=${MARKS[kind] || MARKS.neutral} /></svg>
    ${label}
  </span>`;
}

/** Text in the other language (a rule file's `{en, ur}`), marked with its language. */
function other(text) {
  if (!text || typeof text === 'string') return null;
  const o = lang() === 'en' ? 'ur' : 'en';
  if (!text[o] || text[o] === text[lang()]) return null;
  return html`<bdi lang=${o} dir=${o === 'ur' ? 'rtl' : 'ltr'}>${text[o]}</bdi>`;
}

/* ------------------------------------------------------------------ #/schemes */

export function SchemesPage({ route }) {
  const [list, error, reload] = useLoad(() => api.all('/api/v1/schemes'), []);
  const [form, set] = useFilters(route.query, (q) => ({ q: q.q || '', guarantee: q.guarantee || '' }));
  const mine = session()?.role === 'scheme_admin' ? session().schemes || [] : [];
  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!list) return html`<${Loading} />`;

  const needle = (route.query.q || '').trim().toLowerCase();
  const shown = list.filter(
    (s) =>
      (!route.query.guarantee || s.guarantee === route.query.guarantee) &&
      (!needle ||
        [s.id, s.name?.en, s.name?.ur, s.department].some((x) => String(x || '').toLowerCase().includes(needle))),
  );
  const submit = (e) => {
    e.preventDefault();
    go('/schemes', { q: form.q.trim(), guarantee: form.guarantee });
  };
  const rows = shown.map((s) => [
    html`<a href=${`#/schemes/${encodeURIComponent(s.id)}`} data-testid=${`scheme-link-${s.id}`}>${local(s.name)}</a>
      ${mine.includes(s.id) ? html` <span class="badge">${t('schemes.yours')}</span>` : null}`,
    deptLabel(s.department),
    guaranteeLabel(s.guarantee),
    s.active ? html`<${Mark} kind="good" label=${t('schemes.active')} />` : html`<${Mark} kind="bad" label=${t('schemes.inactive')} />`,
    ltr(s.acknowledge_within_days),
  ]);
  return html`<div>
    <${PageTitle} sub=${t('schemes.lead')}>${t('schemes.title')}</${PageTitle}>
    <form class="filters" role="search" onSubmit=${submit} novalidate>
      <${Field} path="schemes.q" label=${t('schemes.filter_text')} value=${form.q} onInput=${set('q')} dir="auto" autocomplete="off" />
      <${Field} path="schemes.guarantee" kind="select" label=${t('schemes.guarantee')} value=${form.guarantee} onInput=${set('guarantee')}
        options=${[['', t('schemes.all')], ...['health', 'children', 'working_age', 'old_age'].map((g) => [g, guaranteeLabel(g)])]} />
      <div class="filter-actions">
        <button class="button secondary" type="submit" data-testid="schemes-filter">${t('schemes.filter')}</button>
      </div>
    </form>
    <p role="status" data-testid="schemes-count">${t('schemes.count', { n: shown.length, total: list.length })}</p>
    <${Table} caption=${t('schemes.title')} numeric=${[4]}
      head=${[t('schemes.name'), t('schemes.department'), t('schemes.guarantee'), t('schemes.state'), t('schemes.ack_days')]}
      rows=${rows} empty=${t('schemes.none')} />
  </div>`;
}

/* ------------------------------------------------------------------ #/schemes/{id} */

export function SchemePage({ route }) {
  const id = route.params[0];
  const asOf = route.query.as_of || '';
  const [date, setDate] = useState(isoToDate(asOf));
  const [errors, setErrors] = useState([]);
  useEffect(() => setDate(isoToDate(asOf)), [asOf]);
  const [scheme, error, reload] = useLoad(
    () => api.get(`/api/v1/schemes/${encodeURIComponent(id)}`, { as_of: asOf || undefined }),
    [id, asOf],
  );

  const submit = (e) => {
    e.preventDefault();
    if (!dateOk(date)) {
      setErrors([{ path: 'scheme.as_of', message: t('roles.bad_date') }]);
      return;
    }
    setErrors([]);
    go(`/schemes/${encodeURIComponent(id)}`, { as_of: isoOf(date) });
  };
  const mine = session()?.role === 'scheme_admin' && (session().schemes || []).includes(id);
  const refused = error && error.status === 422 ? problemErrors(error, { as_of: t('schemes.as_of_label') }) : [];
  const shownErrors = errors.length ? errors : refused.map((e) => ({ ...e, path: 'scheme.as_of' }));
  const dateForm = html`<form class="filters" onSubmit=${submit} novalidate>
      <${ErrorSummary} errors=${shownErrors} />
      <${DateField} path="scheme.as_of" label=${t('schemes.as_of_label')} hint=${t('schemes.as_of_hint')} value=${date}
        onInput=${setDate} error=${shownErrors[0]?.message} data-testid="scheme-as-of" />
      <div class="filter-actions">
        <button class="button secondary" type="submit" data-testid="scheme-as-of-show">${t('schemes.as_of_show')}</button>
        ${asOf ? html`<a class="button secondary" href=${`#/schemes/${encodeURIComponent(id)}`} data-testid="scheme-today">${t('schemes.today_link')}</a>` : null}
      </div>
    </form>`;
  const back = html`<p><a href="#/schemes">${t('schemes.back')}</a></p>`;
  if (error && error.status === 422) return html`<div>${back}<${PageTitle}>${ltr(id)}</${PageTitle}>${dateForm}</div>`;
  if (error) return html`<div>${back}<${LoadError} error=${error} retry=${reload} /></div>`;
  if (!scheme) return html`<div>${back}<${Loading} /></div>`;
  const s = scheme;
  const at = asOf || todayPk();

  return html`<div>
    ${back}
    <${PageTitle} sub=${other(s.name)}>${local(s.name)}</${PageTitle}>
    <p class="hub-head">
      <span class="badge">${t('schemes.department')}: ${deptLabel(s.department)}</span>
      <span class="badge">${t('schemes.guarantee')}: ${guaranteeLabel(s.guarantee)}</span>
      <span>${s.active
        ? html`<${Mark} kind="good" label=${t('schemes.active')} testid="scheme-active" />`
        : html`<${Mark} kind="bad" label=${t('schemes.inactive')} testid="scheme-active" />`}
        ${' '}${t('schemes.at_date')} ${showDate(at)}</span>
    </p>
    ${s.illustrative ? html`<div class="notice notice-warn" data-testid="illustrative">${t('schemes.illustrative')}</div>` : null}
    ${mine
      ? html`<div class="actions">
          <a class="button" href=${`#/inbox?scheme=${encodeURIComponent(s.id)}`} data-testid="scheme-inbox">${t('schemes.open_inbox')}</a>
          <a class="button secondary" href=${`#/inbox?tab=households&scheme=${encodeURIComponent(s.id)}`} data-testid="scheme-households">${t('schemes.open_households')}</a>
        </div>`
      : null}
    ${dateForm}

    <section aria-labelledby="s-about">
      <h2 id="s-about">${t('schemes.about')}</h2>
      <dl class="summary-list">
        <dt>${t('schemes.id')}</dt><dd>${ltr(s.id)}</dd>
        <dt>${t('schemes.benefit')}</dt><dd>${local(s.benefit)}${s.benefit && other(s.benefit) ? html`<br />${other(s.benefit)}` : null}</dd>
        <dt>${t('schemes.office')}</dt><dd>${s.office ? local(s.office) : t('schemes.no_office')}</dd>
        <dt>${t('schemes.valid')}</dt>
        <dd>${showDate(s.valid_from)} – ${s.valid_until ? showDate(s.valid_until) : t('schemes.open_ended')}</dd>
        <dt>${t('schemes.ack_days')}</dt><dd>${ltr(s.acknowledge_within_days)}</dd>
        <dt>${t('schemes.source')}</dt>
        <dd>${/^https?:\/\//.test(s.source || '')
          ? html`<a href=${s.source} rel="noopener noreferrer" target="_blank">${ltr(s.source)}</a>`
          : html`<bdi>${s.source}</bdi>`}</dd>
      </dl>
    </section>

    <section aria-labelledby="s-criteria">
      <h2 id="s-criteria">${t('schemes.criteria')} (${ltr(s.criteria.length)})</h2>
      <p class="hint">${t('schemes.criteria_hint')}</p>
      <${Table} caption=${t('schemes.criteria')}
        head=${[t('schemes.criterion_en'), t('schemes.criterion_ur'), t('schemes.rule')]}
        rows=${s.criteria.map((c) => [
          html`<bdi lang="en" dir="ltr">${c.label?.en || c.id}</bdi>`,
          html`<bdi lang="ur" dir="rtl">${c.label?.ur || ''}</bdi>`,
          html`<pre class="rule" dir="ltr" lang="en" data-testid=${`rule-${c.id}`}><code>${c.rule}</code></pre>`,
        ])} empty=${t('schemes.no_criteria')} />
    </section>

    <section aria-labelledby="s-params">
      <h2 id="s-params">${t('schemes.parameters')}</h2>
      <p class="hint">${t('schemes.parameters_hint', { date: '' })}${showDate(at)}</p>
      <${Table} caption=${t('schemes.parameters')} numeric=${[2]}
        head=${[t('schemes.param_name'), t('schemes.param_label'), t('schemes.param_value'), t('schemes.param_from')]}
        rows=${s.parameters.map((p) => [
          ltr(p.name),
          p.label ? html`<bdi>${p.label}</bdi>` : '',
          p.value === null || p.value === undefined
            ? html`<span class="empty">${t('schemes.param_none')}</span>`
            : html`${ltr(p.value)}${p.unit ? html` <bdi>${p.unit}</bdi>` : null}`,
          p.effective_from ? showDate(p.effective_from) : '',
        ])} empty=${t('schemes.no_parameters')} />
    </section>

    <section aria-labelledby="s-docs">
      <h2 id="s-docs">${t('schemes.documents')}</h2>
      ${s.documents.length
        ? html`<ul>${s.documents.map((d) => html`<li>${local(d)}</li>`)}</ul>`
        : html`<p class="empty">${t('schemes.no_documents')}</p>`}
      ${s.subject_to.length
        ? html`<h3>${t('schemes.subject_to')}</h3><ul>${s.subject_to.map((d) => html`<li>${local(d)}</li>`)}</ul>`
        : null}
    </section>
  </div>`;
}
