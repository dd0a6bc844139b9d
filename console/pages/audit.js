// The auditor's audit trail (`#/audit`): events newest first with the API's filters (action,
// actor, object type and id, from, to) kept in the hash and keyset "more" paging; and the
// hash-chain check with a plain verdict: intact, or BROKEN with the first broken link.

import * as api from '../api.js';
import { ltr, showTime, t } from '../i18n.js';
import { ErrorSummary, Field, LoadError, Loading, PageTitle, Table, announce, html, problemText, useEffect, useState } from '../lib/ui.js';
import { DateField, Mark, dateOk, go, isoOf, isoToDate, problemErrors, roleLabel, useFilters, usePaged } from './schemes.js';

const FILTERS = ['action', 'actor', 'object_type', 'object_id', 'from', 'to'];

// The actions the service records (for the suggestions list; any text may be typed).
const ACTIONS = [
  'audit_query',
  'audit_verify',
  'authz_denied',
  'decisions_read',
  'district_create',
  'district_update',
  'household_create',
  'household_history_read',
  'household_import',
  'household_read',
  'household_screen',
  'household_search',
  'household_update',
  'login',
  'password_change',
  'referral_create',
  'referral_expire',
  'referral_export',
  'referral_log_read',
  'referral_slip',
  'referral_transition',
  'referrals_read',
  'rescreen_start',
  'rules_reload',
  'scheme_households_read',
  'screening_history_read',
  'screening_preview',
  'screening_read',
  'user_create',
  'user_reset_password',
  'user_update',
];
const OBJECT_TYPES = ['household', 'member', 'referral', 'user', 'district', 'rescreen'];

function apiFilters(q) {
  return Object.fromEntries(FILTERS.map((k) => [k, q[k] || undefined]));
}

/** The verdict of the chain check. */
function Verdict({ report }) {
  if (report.ok) {
    return html`<div class="notice notice-ok" role="status" data-testid="verify-result" data-ok="true">
      <p><${Mark} kind="good" label=${t('audit.chain_ok')} /></p>
      <p>${t('audit.checked')} ${ltr(report.count)} ${t('audit.events_in')} ${ltr(report.chains)} ${t('audit.chains')}</p>
    </div>`;
  }
  return html`<div class="notice notice-error" role="alert" data-testid="verify-result" data-ok="false">
    <p><${Mark} kind="bad" label=${t('audit.chain_broken')} /></p>
    <p>${t('audit.broken_body')}</p>
    <dl class="summary-list">
      <dt>${t('audit.broken_chain')}</dt><dd>${ltr(report.broken_chain || '—')}</dd>
      <dt>${t('audit.broken_seq')}</dt><dd>${ltr(report.first_broken_seq ?? '—')}</dd>
      <dt>${t('audit.broken_reason')}</dt><dd><bdi>${report.reason || '—'}</bdi></dd>
      <dt>${t('audit.checked')}</dt><dd>${ltr(report.count)} ${t('audit.events_in')} ${ltr(report.chains)} ${t('audit.chains')}</dd>
    </dl>
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
  return html`<section aria-labelledby="audit-verify-title" class="panel">
    <h2 id="audit-verify-title">${t('audit.verify_title')}</h2>
    <p>${t('audit.verify_lead')}</p>
    <button type="button" class="button" disabled=${state.busy} onClick=${verify} data-testid="verify-chain">
      ${state.busy ? t('audit.verifying') : t('audit.verify')}
    </button>
    ${state.busy ? html`<p class="loading" role="status">${t('audit.verifying')}</p>` : null}
    ${state.error ? html`<div class="notice notice-error" role="alert" data-testid="verify-error">${problemText(state.error)}</div>` : null}
    ${state.report ? html`<${Verdict} report=${state.report} /><p class="hint">${t('audit.checked_at')} ${showTime(state.at)}</p>` : null}
  </section>`;
}

export function AuditPage({ route }) {
  const q = route.query;
  const [form, set] = useFilters(q, (x) => ({
    action: x.action || '',
    actor: x.actor || '',
    object_type: x.object_type || '',
    object_id: x.object_id || '',
    from: isoToDate(x.from || ''),
    to: isoToDate(x.to || ''),
  }));
  const [errors, setErrors] = useState([]);
  const key = FILTERS.map((k) => q[k] || '').join('|');
  // Back or a new link: the filters shown are the link's, so earlier complaints go.
  useEffect(() => setErrors([]), [key]);
  const list = usePaged((cursor) => api.get('/api/v1/audit/events', { ...apiFilters(q), limit: 50, cursor }), [key]);
  const labels = {
    action: t('audit.action'),
    actor: t('audit.actor'),
    object_type: t('audit.object_type'),
    object_id: t('audit.object_id'),
    from: t('audit.from'),
    to: t('audit.to'),
  };
  const serverErrors =
    list.error && (list.error.status === 422 || list.error.status === 400)
      ? problemErrors(list.error, labels).map((e) => ({ ...e, path: `audit.${e.path}` }))
      : [];
  const shownErrors = errors.length ? errors : serverErrors;
  const err = (k) => shownErrors.find((e) => e.path === `audit.${k}`)?.message;

  const apply = (e) => {
    e.preventDefault();
    const bad = ['from', 'to']
      .filter((k) => !dateOk(form[k]))
      .map((k) => ({ path: `audit.${k}`, label: labels[k], message: t('roles.bad_date') }));
    setErrors(bad);
    if (bad.length) return;
    go('/audit', {
      action: form.action.trim(),
      actor: form.actor.trim(),
      object_type: form.object_type.trim(),
      object_id: form.object_id.trim(),
      from: isoOf(form.from),
      to: isoOf(form.to),
    });
  };
  const narrow = (extra) => go('/audit', { ...apiFilters(q), ...extra });

  const rows = (list.items || []).map((ev) => [
    showTime(ev.occurred_at),
    html`<code>${ltr(ev.action)}</code>`,
    ev.outcome === 'success'
      ? html`<${Mark} kind="good" label=${t('audit.success')} />`
      : html`<${Mark} kind="bad" label=${ev.outcome === 'denied' ? t('audit.denied') : ev.outcome} />`,
    ev.actor_user_id
      ? html`<bdi>${ev.actor_username || ev.actor_user_id}</bdi>${ev.actor_role ? html` · ${roleLabel(ev.actor_role)}` : null}
          ${q.actor !== ev.actor_user_id
            ? html`<br /><button type="button" class="link-button" data-testid="filter-actor" onClick=${() => narrow({ actor: ev.actor_user_id })}>
                ${t('audit.only_actor')}<span class="visually-hidden"> ${ev.actor_username || ''}</span></button>`
            : null}`
      : html`<span class="empty">${t('audit.no_actor')}</span>`,
    ev.object_type
      ? html`${ev.object_type}${ev.object_id ? html`<br />${ltr(ev.object_id)}` : null}
          ${ev.object_id && q.object_id !== ev.object_id
            ? html`<br /><button type="button" class="link-button" data-testid="filter-object"
                onClick=${() => narrow({ object_type: ev.object_type, object_id: ev.object_id })}>${t('audit.only_object')}</button>`
            : null}`
      : '',
    ev.district_code ? ltr(ev.district_code) : '',
    html`<code class="details" dir="ltr" lang="en">${JSON.stringify(ev.details ?? {})}</code>`,
    html`${ltr(ev.chain_id)} · ${ltr(ev.seq)}`,
  ]);
  const filtered = FILTERS.some((k) => q[k]);

  return html`<div>
    <${PageTitle} sub=${t('audit.lead')}>${t('audit.title')}</${PageTitle}>
    <${ChainCheck} />
    <section aria-labelledby="audit-events-title">
      <h2 id="audit-events-title">${t('audit.events_title')}</h2>
      <form class="filters" role="search" onSubmit=${apply} novalidate>
        <${ErrorSummary} errors=${shownErrors} />
        <${Field} path="audit.action" label=${labels.action} value=${form.action} onInput=${set('action')} error=${err('action')}
          list="audit-actions" dir="ltr" autocomplete="off" spellcheck="false" data-testid="audit-action" />
        <datalist id="audit-actions">${ACTIONS.map((a) => html`<option value=${a} />`)}</datalist>
        <${Field} path="audit.actor" label=${labels.actor} hint=${t('audit.actor_hint')} value=${form.actor} onInput=${set('actor')}
          error=${err('actor')} dir="ltr" autocomplete="off" spellcheck="false" data-testid="audit-actor" />
        <${Field} path="audit.object_type" label=${labels.object_type} value=${form.object_type} onInput=${set('object_type')}
          error=${err('object_type')} list="audit-object-types" dir="ltr" autocomplete="off" spellcheck="false" data-testid="audit-object-type" />
        <datalist id="audit-object-types">${OBJECT_TYPES.map((a) => html`<option value=${a} />`)}</datalist>
        <${Field} path="audit.object_id" label=${labels.object_id} value=${form.object_id} onInput=${set('object_id')}
          error=${err('object_id')} dir="ltr" autocomplete="off" spellcheck="false" data-testid="audit-object-id" />
        <${DateField} path="audit.from" label=${labels.from} value=${form.from} onInput=${set('from')} error=${err('from')} data-testid="audit-from" />
        <${DateField} path="audit.to" label=${labels.to} value=${form.to} onInput=${set('to')} error=${err('to')} data-testid="audit-to" />
        <div class="filter-actions">
          <button class="button secondary" type="submit" data-testid="audit-apply">${t('audit.apply')}</button>
          ${filtered ? html`<a class="button secondary" href="#/audit" data-testid="audit-clear">${t('audit.clear')}</a>` : null}
        </div>
      </form>
      <p class="hint">${t('audit.utc_note')}</p>
      ${list.error && !serverErrors.length ? html`<${LoadError} error=${list.error} retry=${list.reload} />` : null}
      ${!list.items && !list.error ? html`<${Loading} />` : null}
      ${list.items
        ? html`<p role="status" data-testid="audit-count">
              ${t('audit.count', { n: list.items.length })}${list.next ? ` ${t('audit.more_exist')}` : ''}
            </p>
            <${Table} caption=${t('audit.caption')}
              head=${[t('audit.col_when'), labels.action, t('audit.col_outcome'), labels.actor, t('audit.col_object'), t('audit.col_district'), t('audit.col_details'), t('audit.col_chain')]}
              rows=${rows} empty=${filtered ? t('audit.none_filtered') : t('audit.none')} />
            ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
            ${list.next
              ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid="audit-more">${t('common.more')}</button>`
              : null}`
        : null}
    </section>
  </div>`;
}
