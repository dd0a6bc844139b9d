// The reports (`#/reports`): coverage, gaps and the referral funnel. Tables carry every number
// (small counts suppressed by the server); CSS bar charts, hidden from screen readers, repeat some.

import * as api from '../api.js';
import { asciiDigits, enumLabel, ltr, showDate, showTime, t, tOr } from '../i18n.js';
import { Filters, Section, Summary, districtName, districtOptions, reference, schemeName, todayPk, useFilterForm } from '../lib/listing.js';
import { session } from '../lib/session.js';
import { Field, PageTitle, Table, announce, html, problemText, useLoad, useState, waiting } from '../lib/ui.js';

// Each report's filters, as the API names them.
const TABS = { coverage: ['district', 'scheme', 'as_of'], gaps: ['district', 'as_of', 'days'], funnel: ['district', 'scheme', 'from', 'to'] };
// The charted tables: the bars (columns) and what they are shares of (none: a ranking).
const MEASURES = [['eligible', 'undetermined', 'referred', 'enrolled'], 'registered'];
const CHARTS = {
  coverage_by_guarantee: MEASURES,
  coverage_by_district: MEASURES,
  funnel_by_scheme: [['referred', 'acknowledged', 'enrolled', 'rejected', 'expired'], 'referred'],
  missing_fields: [['settles_alone']],
};
const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format;
const pct = (share) => `${fmt(share * 100)}%`;
const colLabel = (c) => tOr(`reports.col.${c}`, c);
const cellOf = (tb, i, column) => tb.cells[i][tb.columns.indexOf(column)] ?? null;
const hidden = () => html`<span class="empty" data-testid="suppressed">${t('reports.suppressed')}</span>`;

function rowLabel(kind, key, ref) {
  if (kind === 'scheme') return schemeName(ref, key);
  if (kind === 'district') return districtName(ref, key);
  const [sex, band] = key.split(':');
  if (kind === 'sex_age' && band) return `${enumLabel('sex', sex)}, ${t('reports.age', { band })}`;
  return tOr(`${{ guarantee: 'guarantee', field: 'field', sdg_group: 'reports.sdg' }[kind]}.${key}`, key);
}

/** "Coverage by district — Old age (households)". */
function titleOf(tb, ref) {
  const { guarantee: g, scheme } = tb.about || {};
  const about = g ? tOr(`guarantee.${g}`, g) : scheme && schemeName(ref, scheme);
  return `${tOr(`reports.table.${tb.id}`, tb.id)}${about ? ` — ${about}` : ''} (${tOr(`reports.unit.${tb.unit}`, tb.unit)})`;
}

/** Counts (and shares of the row's `registered`), days, shares, suppression marks; totals (null: a dash where not `totalled`). */
function ReportTable({ tb, ref, title }) {
  const base = tb.columns.indexOf('registered');
  const row = (label, values, total) => [
    label,
    ...values.map((v, j) =>
      v === null
        ? total && !tb.totalled?.[j] ? '—' : hidden()
        : tb.columns[j] === 'expired_share'
          ? ltr(pct(v))
          : html`${ltr(fmt(v))}${j !== base && values[base] ? html`<br /><span class="hint">${ltr(pct(v / values[base]))}</span>` : null}`,
    ),
  ];
  const rows = tb.rows.map((key, i) => row(html`<bdi>${rowLabel(tb.rows_are, key, ref)}</bdi>`, tb.cells[i]));
  if (tb.column_totals) rows.push(row(html`<strong>${t('reports.total')}</strong>`, tb.column_totals, true));
  return html`<${Table} caption=${title} numeric=${tb.columns.map((_, j) => j + 1)}
    head=${[tOr(`reports.rows.${tb.rows_are}`, tb.rows_are), ...tb.columns.map(colLabel)]} rows=${rows} />`;
}

/** A chart of one of `tables` (same id and unit; a select chooses): bars per row with something in it. */
function Chart({ tables, ref }) {
  const [pick, setPick] = useState('0');
  const tb = tables[pick] || tables[0];
  const [columns, of] = CHARTS[tb.id];
  const id = `chart-${tb.id}`;
  const groups = tb.rows
    .map((key, i) => [rowLabel(tb.rows_are, key, ref), columns.map((c) => [of && colLabel(c), cellOf(tb, i, c), of && cellOf(tb, i, of)])])
    .filter(([, bars]) => bars[0][of ? 2 : 1] !== 0);
  if (!groups.length && !tables[1]) return null;
  // A ranking comes longest first (from the API): its bars are shares of the first.
  if (!of) for (const [, [bar]] of groups) bar[2] = groups[0][1][0][1];
  return html`<figure class="chart" aria-labelledby=${id} data-testid=${id}>
    <figcaption id=${id}><strong>${t('reports.chart')} ${titleOf(tb, ref)}</strong> <span class="hint">${t('reports.chart_note')}</span></figcaption>
    ${tables[1]
      ? html`<${Field} path="reports.chart" kind="select" label=${t('reports.chart_pick')} value=${pick} onInput=${setPick}
          options=${tables.map((x, i) => [String(i), titleOf(x, ref)])} />`
      : null}
    <div aria-hidden="true">
      ${groups.map(
        ([label, bars]) => html`<div class="chart-group"><strong>${label}</strong>
          ${bars.map(([name, v, whole]) => {
            const share = v !== null && whole ? Math.min(1, v / whole) : null;
            return html`<div class="bar-line"><span>${name}</span><span class="bar"><span style=${{ inlineSize: pct(share || 0) }}></span></span>
              <span>${v === null ? t('reports.suppressed') : share === null || !of ? fmt(v) : pct(share)}</span></div>`;
          })}
        </div>`,
      )}
    </div>
  </figure>`;
}

function Report({ r, ref }) {
  const names = (list, name) => (list?.length ? html`<bdi>${list.map((x) => name(ref, x)).join(' · ')}</bdi>` : t('reports.all'));
  const count = (n, testid) => html`<span data-testid=${testid}>${ltr(fmt(n))}</span>`;
  const charted = new Set();
  return html`<${Section} id="r-about" title=${t('reports.about')}>
      <${Summary} testid="report-summary" items=${[
        r.from || r.to ? [t('reports.period'), html`${showDate(r.from)} – ${showDate(r.to)}`] : [t('reports.f_as_of'), showDate(r.as_of)],
        [t('reports.generated'), showTime(r.generated_at)],
        [t('reports.districts'), names(r.scope?.districts, districtName)],
        [t('reports.schemes'), names(r.scope?.schemes, schemeName)],
        // The funnel counts referrals, not the registered.
        r.registered && [t('reports.households'), count(r.registered.households, 'registered-households')],
        r.registered && [t('reports.people'), count(r.registered.people, 'registered-people')],
      ]} />
      <p data-testid="suppression-note"><span class="empty">${t('reports.suppressed')}</span>: ${t('reports.suppressed_note', { n: r.suppression_threshold })}</p>
      ${r.notes?.length ? html`<h3>${t('reports.notes')}</h3><ul>${r.notes.map((n) => html`<li lang="en" dir="ltr">${n}</li>`)}</ul>` : null}
    </${Section}>
    ${r.tables.map((tb, i) => {
      const title = titleOf(tb, ref);
      const chart = CHARTS[tb.id] && !charted.has(tb.id) && r.tables.filter((x) => x.id === tb.id && x.unit === tb.unit);
      charted.add(tb.id);
      return html`${chart ? html`<${Chart} tables=${chart} ref=${ref} key=${chart.length} />` : null}
        <${Section} id=${`t${i}`} title=${title} data-testid=${`table-${tb.id}`} data-unit=${tb.unit}>
          <${ReportTable} tb=${tb} ref=${ref} title=${title} />
        </${Section}>`;
    })}`;
}

export function ReportsPage({ route }) {
  const q = route.query;
  const tab = TABS[q.tab] ? q.tab : 'coverage';
  const [ref] = useLoad(reference, []);
  const [busy, setBusy] = useState(false);
  const { districts, schemes } = session() || {};
  const all = t('reports.all');
  const inputs = {
    district: { kind: 'select', options: districtOptions(ref, all, districts) },
    scheme: { kind: 'select', options: [['', all], ...(ref?.schemes || []).filter((s) => !schemes?.length || schemes.includes(s.id)).map((s) => [s.id, schemeName(ref, s.id)])] },
    days: { hint: t('reports.days_hint'), fallback: '30', dir: 'ltr', inputmode: 'numeric', autocomplete: 'off' },
  };
  const fields = TABS[tab].map((name) => ({ name, label: t(`reports.f_${name}`), 'data-testid': `reports-${name}`, ...(inputs[name] || { kind: 'date' }) }));
  const params = Object.fromEntries(TABS[tab].map((name) => [name, q[name] && asciiDigits(q[name])]));
  const state = useLoad(() => api.get(`/api/v1/reports/${tab}`, params), [tab, JSON.stringify(params)]);
  const filters = useFilterForm({ path: '/reports', prefix: 'reports', query: q, fields, extra: { tab }, refusedBy: state[1] });
  const download = async () => {
    setBusy(true);
    try {
      await api.download(`/api/v1/reports/${tab}.csv`, params, `sahulat-${tab}-${state[0]?.as_of || todayPk()}.csv`);
    } catch (e) {
      announce(`${t('reports.csv_failed')} ${problemText(e)}`, 'error');
    }
    setBusy(false);
  };

  return html`<div>
    <${PageTitle} sub=${t('reports.lead')}>${t('reports.title')}</${PageTitle}>
    <nav class="tabs" aria-label=${t('reports.tabs')}>
      <ul>
        ${Object.keys(TABS).map(
          (name) => html`<li><a href=${`#/reports${api.query({ tab: name, district: q.district })}`}
            aria-current=${tab === name ? 'page' : undefined} data-testid=${`tab-${name}`}>${t(`reports.tab_${name}`)}</a></li>`,
        )}
      </ul>
    </nav>
    <${Filters} filters=${filters} fields=${fields}>
      <button class="button secondary" type="submit" data-testid="reports-apply">${t('reports.apply')}</button>
    </${Filters}>
    <p class="actions no-print">
      <button type="button" class="button secondary" disabled=${busy} onClick=${download} data-testid="reports-csv">${t(busy ? 'reports.csv_busy' : 'reports.csv')}</button>
      <span class="hint">${t('reports.csv_hint')}</span>
    </p>
    ${state[0] ? html`<${Report} r=${state[0]} ref=${ref} />` : filters.refused.length ? null : waiting(state)}
  </div>`;
}
