// The auditor's referral log (`#/log`): household numbers, never names; the API's filters
// (district, scheme, status, from, to, clerk) kept in the hash; a count of what is shown;
// keyset "more" paging; and the same filters exported as CSV.

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { session } from '../lib/session.js';
import { ErrorSummary, Field, LoadError, Loading, PageTitle, Status, Table, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';
import {
  DateField,
  Mark,
  REFERRAL_STATUSES,
  dateOk,
  districtName,
  districtOptions,
  go,
  isoOf,
  isoToDate,
  problemErrors,
  refStatusLabel,
  reference,
  schemeName,
  todayPk,
  useFilters,
  usePaged,
} from './schemes.js';

const FILTERS = ['district', 'scheme', 'status', 'from', 'to', 'clerk'];

/** The API's query for the filters in the hash. */
function apiFilters(q) {
  return Object.fromEntries(FILTERS.map((k) => [k, q[k] || undefined]));
}

export function LogPage({ route }) {
  const q = route.query;
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const [form, set] = useFilters(q, (x) => ({
    district: x.district || '',
    scheme: x.scheme || '',
    status: x.status || '',
    from: isoToDate(x.from || ''),
    to: isoToDate(x.to || ''),
    clerk: x.clerk || '',
  }));
  const [errors, setErrors] = useState([]);
  const [exporting, setExporting] = useState(false);
  const key = FILTERS.map((k) => q[k] || '').join('|');
  // Back or a new link: the filters shown are the link's, so earlier complaints go.
  useEffect(() => setErrors([]), [key]);
  const list = usePaged((cursor) => api.get('/api/v1/referrals', { ...apiFilters(q), limit: 50, cursor }), [key]);
  const labels = {
    district: t('log.district'),
    scheme: t('log.scheme'),
    status: t('log.status'),
    from: t('log.from'),
    to: t('log.to'),
    clerk: t('log.clerk'),
  };
  // A filter the API refused (422) is shown at its input; what was typed stays.
  const serverErrors = list.error && list.error.status === 422 ? problemErrors(list.error, labels).map((e) => ({ ...e, path: `log.${e.path}` })) : [];
  const shownErrors = errors.length ? errors : serverErrors;
  const err = (k) => shownErrors.find((e) => e.path === `log.${k}`)?.message;

  const apply = (e) => {
    e.preventDefault();
    const bad = ['from', 'to']
      .filter((k) => !dateOk(form[k]))
      .map((k) => ({ path: `log.${k}`, label: labels[k], message: t('roles.bad_date') }));
    setErrors(bad);
    if (bad.length) return;
    go('/log', {
      district: form.district,
      scheme: form.scheme,
      status: form.status,
      from: isoOf(form.from),
      to: isoOf(form.to),
      clerk: form.clerk.trim(),
    });
  };

  const exportCsv = async () => {
    setExporting(true);
    try {
      const bytes = await api.download('/api/v1/referrals/export.csv', apiFilters(q), `referrals-${todayPk()}.csv`);
      announce(t('log.exported', { size: Math.max(1, Math.round(bytes / 1024)) }));
    } catch (e) {
      announce(`${t('log.export_failed')} ${problemText(e)}`, 'error');
    } finally {
      setExporting(false);
    }
  };

  const mine = session()?.districts || [];
  const rows = (list.items || []).map((r) => [
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
  const filtered = FILTERS.some((k) => q[k]);

  return html`<div>
    <${PageTitle} sub=${t('log.lead')}>${t('log.title')}</${PageTitle}>
    ${mine.length ? html`<p class="hint">${t('log.scoped', { n: mine.length })}</p>` : null}
    <form class="filters" role="search" onSubmit=${apply} novalidate>
      <${ErrorSummary} errors=${shownErrors} />
      <${Field} path="log.district" kind="select" label=${labels.district} value=${form.district} onInput=${set('district')}
        error=${err('district')} options=${districtOptions(ref, t('log.all'), mine)} />
      <${Field} path="log.scheme" kind="select" label=${labels.scheme} value=${form.scheme} onInput=${set('scheme')} error=${err('scheme')}
        options=${[['', t('log.all')], ...(ref?.schemes || []).map((s) => [s.id, schemeName(ref, s.id)])]} />
      <${Field} path="log.status" kind="select" label=${labels.status} value=${form.status} onInput=${set('status')} error=${err('status')}
        options=${[['', t('log.all')], ...REFERRAL_STATUSES.map((s) => [s, refStatusLabel(s)])]} />
      <${DateField} path="log.from" label=${labels.from} value=${form.from} onInput=${set('from')} error=${err('from')} data-testid="log-from" />
      <${DateField} path="log.to" label=${labels.to} value=${form.to} onInput=${set('to')} error=${err('to')} data-testid="log-to" />
      <${Field} path="log.clerk" label=${labels.clerk} hint=${t('log.clerk_hint')} value=${form.clerk} onInput=${set('clerk')} error=${err('clerk')}
        dir="ltr" autocomplete="off" autocapitalize="none" spellcheck="false" data-testid="log-clerk" />
      <div class="filter-actions">
        <button class="button" type="submit" data-testid="log-apply">${t('log.apply')}</button>
        ${filtered ? html`<a class="button secondary" href="#/log" data-testid="log-clear">${t('log.clear')}</a>` : null}
      </div>
    </form>
    <div class="actions">
      <button type="button" class="button secondary" disabled=${exporting} onClick=${exportCsv} data-testid="export-csv">
        ${exporting ? t('log.exporting') : t('log.export')}
      </button>
      <span class="hint">${t('log.export_hint')}</span>
    </div>
    ${list.error && list.error.status !== 422 ? html`<${LoadError} error=${list.error} retry=${list.reload} />` : null}
    ${!list.items && !list.error ? html`<${Loading} />` : null}
    ${list.items
      ? html`<p role="status" data-testid="log-count">
            ${t('log.count', { n: list.items.length })}${list.next ? ` ${t('log.more_exist')}` : ''}
          </p>
          <${Table} caption=${t('log.caption')}
            head=${[t('log.col_number'), t('log.col_household'), labels.district, labels.scheme, labels.status, t('log.col_eligibility'), labels.clerk, t('log.col_referred'), t('log.col_deadline'), t('log.col_updated')]}
            rows=${rows} empty=${filtered ? t('log.none_filtered') : t('log.none')} />
          ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
          ${list.next
            ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid="log-more">${t('common.more')}</button>`
            : null}`
      : null}
  </div>`;
}
