// The scheme catalogue (`#/schemes`, every role) and one scheme (`#/schemes/{id}`): criteria
// with their labels in both languages, the rule text, the parameters in force at a date
// (`?as_of=YYYY-MM-DD`, asked of the API), documents, office and benefit.

import * as api from '../api.js';
import { lang, local, ltr, showDate, t, tOr } from '../i18n.js';
import { Filters, Section, Summary, todayPk, useFilterForm } from '../lib/listing.js';
import { session } from '../lib/session.js';
import { Mark, PageTitle, Table, html, useLoad, waiting } from '../lib/ui.js';

const GUARANTEES = ['health', 'children', 'working_age', 'old_age'];
const guaranteeLabel = (g) => t(`guarantee.${g}`);
const deptLabel = (d) => tOr(`dept.${d}`, d);
const activeMark = (active, testid) =>
  html`<${Mark} kind=${active ? 'good' : 'bad'} label=${active ? t('schemes.active') : t('schemes.inactive')} testid=${testid} />`;

/** Text in the other language (a rule file's `{en, ur}`), marked with its language. */
function other(text) {
  if (!text || typeof text === 'string') return null;
  const o = lang() === 'en' ? 'ur' : 'en';
  if (!text[o] || text[o] === text[lang()]) return null;
  return html`<bdi lang=${o} dir=${o === 'ur' ? 'rtl' : 'ltr'}>${text[o]}</bdi>`;
}

/* ------------------------------------------------------------------ #/schemes */

export function SchemesPage({ route }) {
  const q = route.query;
  const state = useLoad(() => api.all('/api/v1/schemes'), []);
  const [list] = state;
  const fields = [
    { name: 'q', label: t('schemes.filter_text'), dir: 'auto', autocomplete: 'off' },
    { name: 'guarantee', kind: 'select', label: t('schemes.guarantee'), options: [['', t('schemes.all')], ...GUARANTEES.map((g) => [g, guaranteeLabel(g)])] },
  ];
  const filters = useFilterForm({ path: '/schemes', prefix: 'schemes', query: q, fields });
  const mine = session()?.role === 'scheme_admin' ? session().schemes || [] : [];
  if (!list) return waiting(state);

  const needle = (q.q || '').trim().toLowerCase();
  const shown = list.filter(
    (s) =>
      (!q.guarantee || s.guarantee === q.guarantee) &&
      (!needle || [s.id, s.name?.en, s.name?.ur, s.department].some((x) => String(x || '').toLowerCase().includes(needle))),
  );
  const rows = shown.map((s) => [
    html`<a href=${`#/schemes/${encodeURIComponent(s.id)}`} data-testid=${`scheme-link-${s.id}`}>${local(s.name)}</a>
      ${mine.includes(s.id) ? html` <span class="badge">${t('schemes.yours')}</span>` : null}`,
    deptLabel(s.department),
    guaranteeLabel(s.guarantee),
    activeMark(s.active),
    ltr(s.acknowledge_within_days),
  ]);
  return html`<div>
    <${PageTitle} sub=${t('schemes.lead')}>${t('schemes.title')}</${PageTitle}>
    <${Filters} filters=${filters} fields=${fields}>
      <button class="button secondary" type="submit" data-testid="schemes-filter">${t('schemes.filter')}</button>
    </${Filters}>
    <p role="status" data-testid="schemes-count">${t('schemes.count', { n: shown.length, total: list.length })}</p>
    <${Table} caption=${t('schemes.title')} numeric=${[4]}
      head=${[t('schemes.name'), t('schemes.department'), t('schemes.guarantee'), t('schemes.state'), t('schemes.ack_days')]}
      rows=${rows} empty=${t('schemes.none')} />
  </div>`;
}

/* ------------------------------------------------------------------ #/schemes/{id} */

export function SchemePage({ route }) {
  const id = route.params[0];
  const link = `#/schemes/${encodeURIComponent(id)}`;
  const asOf = route.query.as_of || '';
  const state = useLoad(() => api.get(`/api/v1/schemes/${encodeURIComponent(id)}`, { as_of: asOf || undefined }), [id, asOf]);
  const [s, error] = state;
  const fields = [{ name: 'as_of', kind: 'date', label: t('schemes.as_of_label'), hint: t('schemes.as_of_hint'), 'data-testid': 'scheme-as-of' }];
  const filters = useFilterForm({ path: `/schemes/${encodeURIComponent(id)}`, prefix: 'scheme', query: route.query, fields, refusedBy: error });
  const mine = session()?.role === 'scheme_admin' && (session().schemes || []).includes(id);
  const dateForm = html`<${Filters} filters=${filters} fields=${fields}>
      <button class="button secondary" type="submit" data-testid="scheme-as-of-show">${t('schemes.as_of_show')}</button>
      ${asOf ? html`<a class="button secondary" href=${link} data-testid="scheme-today">${t('schemes.today_link')}</a>` : null}
    </${Filters}>`;
  const back = html`<p><a href="#/schemes">${t('schemes.back')}</a></p>`;
  if (filters.refused.length) return html`<div>${back}<${PageTitle}>${ltr(id)}</${PageTitle}>${dateForm}</div>`;
  if (!s) return html`<div>${back}${waiting(state)}</div>`;
  const at = asOf || todayPk();
  const about = [
    [t('schemes.id'), ltr(s.id)],
    [t('schemes.benefit'), html`${local(s.benefit)}${s.benefit && other(s.benefit) ? html`<br />${other(s.benefit)}` : null}`],
    [t('schemes.office'), s.office ? local(s.office) : t('schemes.no_office')],
    [t('schemes.valid'), html`${showDate(s.valid_from)} – ${s.valid_until ? showDate(s.valid_until) : t('schemes.open_ended')}`],
    [t('schemes.ack_days'), ltr(s.acknowledge_within_days)],
    [t('schemes.source'), /^https?:\/\//.test(s.source || '') ? html`<a href=${s.source} rel="noopener noreferrer" target="_blank">${ltr(s.source)}</a>` : html`<bdi>${s.source}</bdi>`],
  ];
  const places = (list) => html`<ul>${list.map((d) => html`<li>${local(d)}</li>`)}</ul>`;

  return html`<div>
    ${back}
    <${PageTitle} sub=${other(s.name)}>${local(s.name)}</${PageTitle}>
    <p class="hub-head">
      <span class="badge">${t('schemes.department')}: ${deptLabel(s.department)}</span>
      <span class="badge">${t('schemes.guarantee')}: ${guaranteeLabel(s.guarantee)}</span>
      <span>${activeMark(s.active, 'scheme-active')} ${t('schemes.at_date')} ${showDate(at)}</span>
    </p>
    ${s.illustrative ? html`<div class="notice notice-warn" data-testid="illustrative">${t('schemes.illustrative')}</div>` : null}
    ${mine
      ? html`<div class="actions">
          <a class="button" href=${`#/inbox?scheme=${encodeURIComponent(s.id)}`} data-testid="scheme-inbox">${t('schemes.open_inbox')}</a>
          <a class="button secondary" href=${`#/inbox?tab=households&scheme=${encodeURIComponent(s.id)}`} data-testid="scheme-households">${t('schemes.open_households')}</a>
        </div>`
      : null}
    ${dateForm}

    <${Section} id="s-about" title=${t('schemes.about')}>
      <${Summary} items=${about} />
    </${Section}>

    <${Section} id="s-criteria" title=${html`${t('schemes.criteria')} (${ltr(s.criteria.length)})`}>
      <p class="hint">${t('schemes.criteria_hint')}</p>
      <${Table} caption=${t('schemes.criteria')} head=${[t('schemes.criterion_en'), t('schemes.criterion_ur'), t('schemes.rule')]}
        rows=${s.criteria.map((c) => [
          html`<bdi lang="en" dir="ltr">${c.label?.en || c.id}</bdi>`,
          html`<bdi lang="ur" dir="rtl">${c.label?.ur || ''}</bdi>`,
          html`<pre class="rule" dir="ltr" lang="en" data-testid=${`rule-${c.id}`}><code>${c.rule}</code></pre>`,
        ])} empty=${t('schemes.no_criteria')} />
    </${Section}>

    <${Section} id="s-params" title=${t('schemes.parameters')}>
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
    </${Section}>

    <${Section} id="s-docs" title=${t('schemes.documents')}>
      ${s.documents.length ? places(s.documents) : html`<p class="empty">${t('schemes.no_documents')}</p>`}
      ${s.subject_to.length ? html`<h3>${t('schemes.subject_to')}</h3>${places(s.subject_to)}` : null}
    </${Section}>
  </div>`;
}
