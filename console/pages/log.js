// The auditor's referral log (`#/log`): household numbers, never names; the API's filters
// (district, scheme, status, from, to, clerk) kept in the hash; a count of what is shown;
// keyset "more" paging; and the same filters exported as CSV.

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import {
  Filters,
  districtName,
  districtOptions,
  reference,
  schemeName,
  todayPk,
} from '../lib/listing.js';
import { PagedTable, REFERRAL_STATUSES, refStatusLabel, useListing } from '../lib/paged.js';
import { session } from '../lib/session.js';
import { Mark, PageTitle, Status, announce, html, problemText, useLoad, useState } from '../lib/ui.js';

export function LogPage({ route }) {
  const q = route.query;
  const [ref] = useLoad(reference, []);
  const [exporting, setExporting] = useState(false);
  const mine = session()?.districts || [];
  const all = ['', t('log.all')];
  const fields = [
    { name: 'district', kind: 'select', label: t('log.district'), options: districtOptions(ref, t('log.all'), mine) },
    { name: 'scheme', kind: 'select', label: t('log.scheme'), options: [all, ...(ref?.schemes || []).map((s) => [s.id, schemeName(ref, s.id)])] },
    { name: 'status', kind: 'select', label: t('log.status'), options: [all, ...REFERRAL_STATUSES.map((s) => [s, refStatusLabel(s)])] },
    { name: 'from', kind: 'date', label: t('log.from'), 'data-testid': 'log-from' },
    { name: 'to', kind: 'date', label: t('log.to'), 'data-testid': 'log-to' },
    { name: 'clerk', label: t('log.clerk'), hint: t('log.clerk_hint'), dir: 'ltr', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'log-clerk' },
  ];
  // The API's query: the filters in the hash.
  const filters = () => Object.fromEntries(fields.map(({ name }) => [name, q[name] || undefined]));
  const listing = useListing({
    path: '/log',
    prefix: 'log',
    query: q,
    fields,
    load: (cursor) => api.get('/api/v1/referrals', { ...filters(), limit: 50, cursor }),
  });

  const exportCsv = async () => {
    setExporting(true);
    try {
      const bytes = await api.download('/api/v1/referrals/export.csv', filters(), `referrals-${todayPk()}.csv`);
      announce(t('log.exported', { size: Math.max(1, Math.round(bytes / 1024)) }));
    } catch (e) {
      announce(`${t('log.export_failed')} ${problemText(e)}`, 'error');
    } finally {
      setExporting(false);
    }
  };

  const rows = (listing.list.items || []).map((r) => [
    html`<span data-testid=${`log-row-${r.referral_number}`}>${ltr(r.referral_number)}</span>`,
    ltr(r.household_number),
    html`<bdi>${districtName(ref, r.district)}</bdi>`,
    schemeName(ref, r.scheme),
    html`<${Status} status=${r.status} label=${refStatusLabel(r.status)} />`,
    html`${t(`status.${r.eligibility}`)}${r.override_reason
      ? html`<br /><${Mark} kind="warn" label=${t('status.override')} /> <bdi>${r.override_reason}</bdi>`
      : null}`,
    html`<bdi>${r.referred_by}</bdi>`,
    showTime(r.referred_at),
    showDate(r.acknowledge_by),
    showTime(r.updated_at),
  ]);

  return html`<div>
    <${PageTitle} sub=${t('log.lead')}>${t('log.title')}</${PageTitle}>
    ${mine.length ? html`<p class="hint">${t('log.scoped', { n: mine.length })}</p>` : null}
    <${Filters} filters=${listing} fields=${fields}>
      <button class="button" type="submit" data-testid="log-apply">${t('log.apply')}</button>
      ${listing.filtered ? html`<a class="button secondary" href="#/log" data-testid="log-clear">${t('log.clear')}</a>` : null}
    </${Filters}>
    <div class="actions">
      <button type="button" class="button secondary" disabled=${exporting} onClick=${exportCsv} data-testid="export-csv">
        ${exporting ? t('log.exporting') : t('log.export')}
      </button>
      <span class="hint">${t('log.export_hint')}</span>
    </div>
    <${PagedTable} list=${listing.list} name="log" count=${t('log.count', { n: rows.length })} caption=${t('log.caption')}
      head=${[t('log.col_number'), t('log.col_household'), t('log.district'), t('log.scheme'), t('log.status'), t('log.col_eligibility'), t('log.clerk'), t('log.col_referred'), t('log.col_deadline'), t('log.col_updated')]}
      rows=${rows} empty=${listing.filtered ? t('log.none_filtered') : t('log.none')} refused=${listing.refused} />
  </div>`;
}
