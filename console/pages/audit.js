// The auditor's audit trail (`#/audit`): events newest first with the API's filters (action,
// actor, object type and id, from, to) kept in the hash and keyset "more" paging; and the
// hash-chain check with a plain verdict: intact, or BROKEN with the first broken link.

import * as api from '../api.js';
import { ltr, showTime, t } from '../i18n.js';
import { Filters, Section, Summary, go, roleLabel } from '../lib/listing.js';
import { PagedTable, useListing } from '../lib/paged.js';
import { Mark, PageTitle, announce, html, problemText, useState } from '../lib/ui.js';

// The actions the service records (suggestions only: any text may be typed).
const ACTIONS = `audit_query audit_verify authz_denied decisions_read district_create district_update household_create
  household_history_read household_import household_read household_screen household_search household_update login
  password_change referral_create referral_expire referral_export referral_log_read referral_slip referral_transition
  referrals_read rescreen_start rules_reload scheme_households_read screening_history_read screening_preview
  screening_read user_create user_reset_password user_update`.split(/\s+/);
const OBJECT_TYPES = ['household', 'member', 'referral', 'user', 'district', 'rescreen'];

/** The verdict of the chain check. */
function Verdict({ report }) {
  const checked = html`${ltr(report.count)} ${t('audit.events_in')} ${ltr(report.chains)} ${t('audit.chains')}`;
  if (report.ok) {
    return html`<div class="notice notice-ok" role="status" data-testid="verify-result" data-ok="true">
      <p><${Mark} kind="good" label=${t('audit.chain_ok')} /></p>
      <p>${t('audit.checked')} ${checked}</p>
    </div>`;
  }
  return html`<div class="notice notice-error" role="alert" data-testid="verify-result" data-ok="false">
    <p><${Mark} kind="bad" label=${t('audit.chain_broken')} /></p>
    <p>${t('audit.broken_body')}</p>
    <${Summary} items=${[
      [t('audit.broken_chain'), ltr(report.broken_chain || '—')],
      [t('audit.broken_seq'), ltr(report.first_broken_seq ?? '—')],
      [t('audit.broken_reason'), html`<bdi>${report.reason || '—'}</bdi>`],
      [t('audit.checked'), checked],
    ]} />
    <p>${t('audit.broken_next')}</p>
  </div>`;
}

function ChainCheck() {
  const [state, setState] = useState({ busy: false, report: null, error: null, at: null });
  const verify = async () => {
    setState((s) => ({ ...s, busy: true, error: null }));
    try {
      const report = await api.get('/api/v1/audit/verify');
      setState({ busy: false, report, error: null, at: new Date().toISOString() });
      announce(report.ok ? t('audit.chain_ok') : t('audit.chain_broken'), report.ok ? 'ok' : 'error');
    } catch (error) {
      setState({ busy: false, report: null, error, at: null });
    }
  };
  return html`<${Section} id="audit-verify" title=${t('audit.verify_title')} class="panel">
    <p>${t('audit.verify_lead')}</p>
    <button type="button" class="button" disabled=${state.busy} onClick=${verify} data-testid="verify-chain">
      ${state.busy ? t('audit.verifying') : t('audit.verify')}
    </button>
    ${state.busy ? html`<p class="loading" role="status">${t('audit.verifying')}</p>` : null}
    ${state.error ? html`<div class="notice notice-error" role="alert" data-testid="verify-error">${problemText(state.error)}</div>` : null}
    ${state.report ? html`<${Verdict} report=${state.report} /><p class="hint">${t('audit.checked_at')} ${showTime(state.at)}</p>` : null}
  </${Section}>`;
}

export function AuditPage({ route }) {
  const q = route.query;
  const text = { dir: 'ltr', autocomplete: 'off', spellcheck: 'false' };
  const fields = [
    { name: 'action', label: t('audit.action'), suggest: ACTIONS, ...text, 'data-testid': 'audit-action' },
    { name: 'actor', label: t('audit.actor'), hint: t('audit.actor_hint'), ...text, 'data-testid': 'audit-actor' },
    { name: 'object_type', label: t('audit.object_type'), suggest: OBJECT_TYPES, ...text, 'data-testid': 'audit-object-type' },
    { name: 'object_id', label: t('audit.object_id'), ...text, 'data-testid': 'audit-object-id' },
    { name: 'from', kind: 'date', label: t('audit.from'), 'data-testid': 'audit-from' },
    { name: 'to', kind: 'date', label: t('audit.to'), 'data-testid': 'audit-to' },
  ];
  // The API's query: the filters in the hash.
  const filters = () => Object.fromEntries(fields.map(({ name }) => [name, q[name] || undefined]));
  const listing = useListing({
    path: '/audit',
    prefix: 'audit',
    query: q,
    fields,
    load: (cursor) => api.get('/api/v1/audit/events', { ...filters(), limit: 50, cursor }),
  });
  const narrow = (extra) => go('/audit', { ...filters(), ...extra });
  const narrowButton = (testid, label, extra) =>
    html`<br /><button type="button" class="link-button" data-testid=${testid} onClick=${() => narrow(extra)}>${label}</button>`;

  const rows = (listing.list.items || []).map((ev) => [
    showTime(ev.occurred_at),
    html`<code>${ltr(ev.action)}</code>`,
    html`<${Mark} kind=${ev.outcome === 'success' ? 'good' : 'bad'}
      label=${ev.outcome === 'success' ? t('audit.success') : ev.outcome === 'denied' ? t('audit.denied') : ev.outcome} />`,
    ev.actor_user_id
      ? html`<bdi>${ev.actor_username || ev.actor_user_id}</bdi>${ev.actor_role ? html` · ${roleLabel(ev.actor_role)}` : null}
          ${q.actor !== ev.actor_user_id
            ? narrowButton('filter-actor', html`${t('audit.only_actor')}<span class="visually-hidden"> ${ev.actor_username || ''}</span>`, { actor: ev.actor_user_id })
            : null}`
      : html`<span class="empty">${t('audit.no_actor')}</span>`,
    ev.object_type
      ? html`${ev.object_type}${ev.object_id ? html`<br />${ltr(ev.object_id)}` : null}
          ${ev.object_id && q.object_id !== ev.object_id
            ? narrowButton('filter-object', t('audit.only_object'), { object_type: ev.object_type, object_id: ev.object_id })
            : null}`
      : '',
    ev.district_code ? ltr(ev.district_code) : '',
    html`<code class="details" dir="ltr" lang="en">${JSON.stringify(ev.details ?? {})}</code>`,
    html`${ltr(ev.chain_id)} · ${ltr(ev.seq)}`,
  ]);

  return html`<div>
    <${PageTitle} sub=${t('audit.lead')}>${t('audit.title')}</${PageTitle}>
    <${ChainCheck} />
    <${Section} id="audit-events" title=${t('audit.events_title')}>
      <${Filters} filters=${listing} fields=${fields}>
        <button class="button secondary" type="submit" data-testid="audit-apply">${t('audit.apply')}</button>
        ${listing.filtered ? html`<a class="button secondary" href="#/audit" data-testid="audit-clear">${t('audit.clear')}</a>` : null}
      </${Filters}>
      <p class="hint">${t('audit.utc_note')}</p>
      <${PagedTable} list=${listing.list} name="audit" count=${t('audit.count', { n: rows.length })} caption=${t('audit.caption')}
        head=${[t('audit.col_when'), t('audit.action'), t('audit.col_outcome'), t('audit.actor'), t('audit.col_object'), t('audit.col_district'), t('audit.col_details'), t('audit.col_chain')]}
        rows=${rows} empty=${listing.filtered ? t('audit.none_filtered') : t('audit.none')} refused=${listing.refused} />
    </${Section}>
  </div>`;
}
