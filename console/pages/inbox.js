// The scheme administrator's inbox (`#/inbox`): the referrals of their schemes, oldest first,
// with the acknowledge-by deadline and the next steps they may take (acknowledge, enrol,
// reject with a reason); and (`?tab=households`) the households currently eligible or
// undetermined for one of their schemes. Filters live in the hash, so links are shareable.

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import {
  Filters,
  districtName,
  districtOptions,
  formErrors,
  reference,
  schemeName,
  todayPk,
  useForm,
} from '../lib/listing.js';
import { PagedTable, REFERRAL_STATUSES, refStatusLabel, useListing } from '../lib/paged.js';
import { session } from '../lib/session.js';
import { Dialog, ErrorSummary, Field, Mark, PageTitle, Status, announce, html, problemText, useLoad, useState } from '../lib/ui.js';

/**
 * The steps a scheme administrator may take from a status (`referrals::allowed`; a referral's
 * own answer carries them as `next_steps`, the list's entries do not).
 */
function nextSteps(status) {
  if (status === 'referred') return ['acknowledged'];
  if (status === 'acknowledged') return ['enrolled', 'rejected'];
  return [];
}

/** Whole days from today (Pakistan) to `iso` (negative: in the past). */
function daysFromToday(iso) {
  return Math.round((Date.parse(`${String(iso).slice(0, 10)}T00:00:00Z`) - Date.parse(`${todayPk()}T00:00:00Z`)) / 86400000);
}

const STEP_ID = { acknowledged: 'ack', enrolled: 'enrol', rejected: 'reject' };

/** The deadline with a word for how near it is (only while it matters: not yet acknowledged). */
function Deadline({ referral }) {
  const date = showDate(referral.acknowledge_by);
  if (referral.status !== 'referred') return date;
  const days = daysFromToday(referral.acknowledge_by);
  let mark = null;
  if (days < 0) mark = html`<${Mark} kind="bad" label=${t('inbox.overdue_by', { n: -days })} testid=${`overdue-${referral.referral_number}`} />`;
  else if (days === 0) mark = html`<${Mark} kind="warn" label=${t('inbox.due_today')} />`;
  else if (days <= 2) mark = html`<${Mark} kind="warn" label=${t('inbox.due_in', { n: days })} />`;
  return html`${date}${mark ? html`<br />${mark}` : null}`;
}

/**
 * Moves a referral (`to`, with `reason`), sending `key` as Idempotency-Key. When the answer
 * is "illegal step" because an earlier try (lost on the network) already made it, the
 * referral as it now is counts as success.
 */
async function moveReferral(id, to, reason, key) {
  const path = `/api/v1/referrals/${encodeURIComponent(id)}`;
  try {
    return (await api.post(`${path}/transitions`, reason ? { to, reason } : { to }, { key })).data;
  } catch (e) {
    if (e.status === 409) {
      const now = await api.get(path).catch(() => null);
      if (now?.status === to) return now;
      if (now) e.current = now;
    }
    throw e;
  }
}

export function InboxPage({ route }) {
  const q = route.query;
  const tab = q.tab === 'households' ? 'households' : 'referrals';
  const [ref] = useLoad(reference, []);
  const mine = session()?.schemes || [];
  const tabLink = (name) => {
    const params = new URLSearchParams(Object.entries({ tab: name === 'households' ? name : '', scheme: q.scheme, district: q.district }).filter(([, v]) => v)).toString();
    return `#/inbox${params ? `?${params}` : ''}`;
  };
  const Tab = tab === 'referrals' ? ReferralsTab : HouseholdsTab;
  return html`<div>
    <${PageTitle} sub=${t('inbox.lead')}>${t('inbox.title')}</${PageTitle}>
    ${mine.length
      ? html`<p class="hub-head">${t('inbox.your_schemes')}
          ${mine.map((id) => html`<a class="badge" href=${`#/schemes/${encodeURIComponent(id)}`}>${schemeName(ref, id)}</a>`)}</p>`
      : html`<div class="notice notice-warn">${t('inbox.no_schemes')}</div>`}
    <nav class="tabs" aria-label=${t('inbox.tabs')}>
      <ul>
        ${[['referrals', t('inbox.tab_referrals')], ['households', t('inbox.tab_households')]].map(
          ([name, label]) => html`<li><a href=${tabLink(name)} aria-current=${tab === name ? 'page' : undefined} data-testid=${`tab-${name}`}>${label}</a></li>`,
        )}
      </ul>
    </nav>
    <${Tab} query=${q} refData=${ref} mine=${mine} />
  </div>`;
}

function ReferralsTab({ query, refData, mine }) {
  const fields = [
    { name: 'scheme', kind: 'select', label: t('inbox.scheme'), options: [['', t('inbox.all_my_schemes')], ...mine.map((id) => [id, schemeName(refData, id)])] },
    { name: 'status', kind: 'select', label: t('inbox.status'), fallback: 'referred', options: [...REFERRAL_STATUSES.map((s) => [s, refStatusLabel(s)]), ['any', t('inbox.any_status')]] },
    { name: 'district', kind: 'select', label: t('inbox.district'), options: districtOptions(refData, t('inbox.all_districts')) },
    { name: 'overdue', kind: 'select', label: t('inbox.deadline'), options: [['', t('inbox.any_deadline')], ['true', t('inbox.only_overdue')]] },
  ];
  const status = query.status || 'referred';
  const listing = useListing({
    path: '/inbox',
    prefix: 'inbox',
    query,
    fields,
    load: (cursor) =>
      api.get('/api/v1/referrals', {
        scheme: query.scheme,
        status: status === 'any' ? undefined : status,
        district: query.district,
        overdue: query.overdue ? 'true' : undefined,
        limit: 50,
        cursor,
      }),
  });
  const { list } = listing;
  const [busy, setBusy] = useState(null); // `${id}:${to}` while a step is sent
  const [keys, setKeys] = useState({}); // Idempotency-Keys kept after a network failure
  const [rejecting, setRejecting] = useState(null); // the referral being rejected
  const reject = useForm({ reason: '' });

  const show = (id, now) => list.update((items) => items.map((r) => (r.id === id ? { ...r, status: now.status, updated_at: now.updated_at } : r)));
  const forget = (slot) => setKeys(({ [slot]: _, ...rest }) => rest);

  /** Sends a step; true when made. A refused rejection (422) is thrown for the dialog to show. */
  const step = async (row, to, why) => {
    const slot = `${row.id}:${to}`;
    const key = keys[slot] || api.newKey();
    setBusy(slot);
    try {
      show(row.id, await moveReferral(row.id, to, why, key));
      forget(slot);
      announce(t(`inbox.done_${STEP_ID[to]}`, { number: row.referral_number }));
      return true;
    } catch (e) {
      if (e instanceof api.NetworkError) {
        setKeys((k) => ({ ...k, [slot]: key }));
        announce(t('inbox.network_retry'), 'error');
        return false;
      }
      forget(slot);
      if (e.current) {
        show(row.id, e.current);
        announce(t('inbox.now_status', { number: row.referral_number, status: refStatusLabel(e.current.status) }), 'error');
      } else if (e.status === 422 && to === 'rejected') throw e;
      else announce(`${row.referral_number}: ${problemText(e)}`, 'error');
      return false;
    } finally {
      setBusy(null);
    }
  };

  const openReject = (row) => {
    setRejecting(row);
    reject.setErrors([]);
  };
  const submitReject = (e) => {
    e.preventDefault();
    const reason = reject.form.reason.trim();
    reject.setErrors(reason ? [] : [{ path: 'reject.reason', message: t('inbox.reason_missing') }]);
    if (reason) {
      reject.run(
        async () => {
          if (await step(rejecting, 'rejected', reason)) {
            setRejecting(null);
            reject.setForm({ reason: '' });
          }
        },
        (err) => formErrors(err, 'reject.reason'),
      );
    }
  };
  const retryLabel = (slot, label) => (keys[slot] ? t('inbox.retry_step', { step: label }) : label);

  const rows = (list.items || []).map((r) => [
    html`<a href=${`#/referrals/${encodeURIComponent(r.id)}`} data-testid=${`referral-link-${r.referral_number}`}>${ltr(r.referral_number)}</a>`,
    ltr(r.household_number),
    html`<a href=${`#/schemes/${encodeURIComponent(r.scheme)}`}>${schemeName(refData, r.scheme)}</a>`,
    html`<bdi>${districtName(refData, r.district)}</bdi>`,
    showTime(r.referred_at),
    html`<${Deadline} referral=${r} />`,
    html`<span data-testid=${`status-${r.referral_number}`}><${Status} status=${r.status} label=${refStatusLabel(r.status)} /></span>`,
    html`<span class="actions row-actions">
      ${nextSteps(r.status).map((to) => {
        const slot = `${r.id}:${to}`;
        return html`<button type="button" class="button secondary" disabled=${busy === slot} data-testid=${`${STEP_ID[to]}-${r.referral_number}`}
          onClick=${() => (to === 'rejected' ? openReject(r) : step(r, to))}>
          ${retryLabel(slot, t(`inbox.step_${STEP_ID[to]}`))}<span class="visually-hidden"> ${r.referral_number}</span>
        </button>`;
      })}
    </span>`,
  ]);
  const rejectSlot = `${rejecting?.id}:rejected`;

  return html`<section aria-labelledby="inbox-ref-title">
    <h2 id="inbox-ref-title" class="visually-hidden">${t('inbox.tab_referrals')}</h2>
    <${Filters} filters=${listing} fields=${fields}>
      <button class="button" type="submit" data-testid="inbox-apply">${t('inbox.apply')}</button>
      <a class="button secondary" href="#/inbox" data-testid="inbox-clear">${t('inbox.clear')}</a>
    </${Filters}>
    <${PagedTable} list=${list} name="inbox" count=${t('inbox.count', { n: rows.length })} caption=${t('inbox.caption')}
      head=${[t('inbox.col_number'), t('inbox.col_household'), t('inbox.col_scheme'), t('inbox.col_district'), t('inbox.col_referred'), t('inbox.col_deadline'), t('inbox.col_status'), t('inbox.col_actions')]}
      rows=${rows} empty=${t('inbox.none')} refused=${listing.refused} />
    <${Dialog} id="reject-dialog" open=${!!rejecting} title=${t('inbox.reject_title', { number: rejecting?.referral_number || '' })}
      onClose=${() => setRejecting(null)}>
      <form onSubmit=${submitReject} novalidate>
        <${ErrorSummary} errors=${reject.errors} />
        <p>${t('inbox.reject_body')}</p>
        <${Field} path="reject.reason" kind="textarea" label=${t('inbox.reason')} hint=${t('inbox.reason_hint')} value=${reject.form.reason}
          onInput=${reject.set('reason')} error=${reject.errors[0]?.message} required maxlength="500" dir="auto" data-testid="reject-reason" />
        <button class="button warning" type="submit" disabled=${busy === rejectSlot} data-testid="reject-confirm">
          ${retryLabel(rejectSlot, t('inbox.reject_confirm'))}
        </button>
        <button class="button secondary" type="button" onClick=${() => setRejecting(null)} data-testid="reject-cancel">${t('common.cancel')}</button>
      </form>
    </${Dialog}>
  </section>`;
}

function HouseholdsTab({ query, refData, mine }) {
  // Only the administrator's own schemes, the first when none (or another) is asked for.
  const scheme = mine.includes(query.scheme) ? query.scheme : mine[0] || '';
  const hstatus = query.hstatus === 'undetermined' ? 'undetermined' : 'eligible';
  const fields = [
    { name: 'scheme', kind: 'select', label: t('inbox.scheme'), fallback: mine[0] || '', options: mine.map((id) => [id, schemeName(refData, id)]) },
    { name: 'hstatus', kind: 'select', label: t('inbox.h_status'), fallback: 'eligible', options: ['eligible', 'undetermined'].map((s) => [s, t(`status.${s}`)]) },
    { name: 'district', kind: 'select', label: t('inbox.district'), options: districtOptions(refData, t('inbox.all_districts')) },
  ];
  const listing = useListing({
    path: '/inbox',
    prefix: 'inbox',
    query: { ...query, scheme, hstatus },
    fields,
    extra: { tab: 'households' },
    load: (cursor) =>
      scheme
        ? api.get(`/api/v1/schemes/${encodeURIComponent(scheme)}/households`, { status: hstatus, district: query.district, limit: 50, cursor })
        : Promise.resolve({ items: [], next_cursor: null }),
  });
  const rows = (listing.list.items || []).map((h) => [
    html`<span data-testid="household-number">${ltr(h.household_number)}</span>`,
    html`<bdi>${districtName(refData, h.district)}</bdi>`,
    html`<${Status} status=${h.status} label=${t(`status.${h.status}`)} />`,
    showDate(h.as_of),
    html`<code>${ltr(String(h.rules_version || '').slice(0, 12))}</code>`,
  ]);
  return html`<section aria-labelledby="inbox-hh-title">
    <h2 id="inbox-hh-title" class="visually-hidden">${t('inbox.tab_households')}</h2>
    <p class="hint">${t('inbox.households_lead')}</p>
    <${Filters} filters=${listing} fields=${fields}>
      <button class="button" type="submit" data-testid="households-apply">${t('inbox.h_apply')}</button>
    </${Filters}>
    <${PagedTable} list=${listing.list} name="households" count=${t('inbox.h_count', { n: rows.length })}
      caption=${t('inbox.h_caption', { scheme: schemeName(refData, scheme) })}
      head=${[t('inbox.col_household'), t('inbox.col_district'), t('inbox.h_status'), t('inbox.h_as_of'), t('inbox.h_rules')]}
      rows=${rows} empty=${t('inbox.h_none')} refused=${listing.refused} />
  </section>`;
}
