// The scheme administrator's inbox (`#/inbox`): the referrals of their schemes, oldest first,
// with the acknowledge-by deadline and the next steps they may take (acknowledge, enrol,
// reject with a reason); and (`?tab=households`) the households currently eligible or
// undetermined for one of their schemes. Filters live in the hash, so links are shareable.
//
// The referral list asks `GET /api/v1/referrals?scheme=&status=&district=&overdue=true`. The
// server answers it for auditors only today; a 403 is explained on the page (the households
// tab and every referral page keep working).

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { session } from '../lib/session.js';
import {
  Dialog,
  ErrorSummary,
  Field,
  LoadError,
  Loading,
  PageTitle,
  Status,
  Table,
  announce,
  html,
  problemText,
  useLoad,
  useState,
} from '../lib/ui.js';
import {
  Mark,
  REFERRAL_STATUSES,
  daysFromToday,
  districtName,
  districtOptions,
  go,
  problemErrors,
  refStatusLabel,
  reference,
  schemeName,
  useFilters,
  usePaged,
} from './schemes.js';

/** The steps a scheme administrator may take from a status (`referrals::allowed`). */
export function nextSteps(status) {
  if (status === 'referred') return ['acknowledged'];
  if (status === 'acknowledged') return ['enrolled', 'rejected'];
  return [];
}

const STEP_ID = { acknowledged: 'ack', enrolled: 'enrol', rejected: 'reject' };

/** Whether a referral waits past its acknowledge-by date. */
export function isOverdue(r) {
  return r.status === 'referred' && daysFromToday(r.acknowledge_by) < 0;
}

/** The deadline with a word for how near it is (only while it matters: not yet acknowledged). */
export function Deadline({ referral }) {
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
  try {
    const res = await api.post(`/api/v1/referrals/${encodeURIComponent(id)}/transitions`, reason ? { to, reason } : { to }, { key });
    return res.data;
  } catch (e) {
    if (e.status === 409) {
      const now = await api.get(`/api/v1/referrals/${encodeURIComponent(id)}`).catch(() => null);
      if (now?.referral?.status === to) return now.referral;
      if (now?.referral) e.current = now.referral;
    }
    throw e;
  }
}

export function InboxPage({ route }) {
  const q = route.query;
  const tab = q.tab === 'households' ? 'households' : 'referrals';
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const mine = session()?.schemes || [];
  const tabLink = (name) => {
    const params = new URLSearchParams();
    if (name === 'households') params.set('tab', 'households');
    if (q.scheme) params.set('scheme', q.scheme);
    if (q.district) params.set('district', q.district);
    const s = params.toString();
    return `#/inbox${s ? `?${s}` : ''}`;
  };
  return html`<div>
    <${PageTitle} sub=${t('inbox.lead')}>${t('inbox.title')}</${PageTitle}>
    ${mine.length
      ? html`<p class="hub-head">${t('inbox.your_schemes')}
          ${mine.map((id) => html`<a class="badge" href=${`#/schemes/${encodeURIComponent(id)}`}>${schemeName(ref, id)}</a>`)}</p>`
      : html`<div class="notice notice-warn">${t('inbox.no_schemes')}</div>`}
    <nav class="tabs" aria-label=${t('inbox.tabs')}>
      <ul>
        <li><a href=${tabLink('referrals')} aria-current=${tab === 'referrals' ? 'page' : undefined} data-testid="tab-referrals">${t('inbox.tab_referrals')}</a></li>
        <li><a href=${tabLink('households')} aria-current=${tab === 'households' ? 'page' : undefined} data-testid="tab-households">${t('inbox.tab_households')}</a></li>
      </ul>
    </nav>
    ${tab === 'referrals'
      ? html`<${ReferralsTab} query=${q} refData=${ref} mine=${mine} />`
      : html`<${HouseholdsTab} query=${q} refData=${ref} mine=${mine} />`}
  </div>`;
}

function ReferralsTab({ query, refData, mine }) {
  const status = query.status || 'referred';
  const [form, set] = useFilters(query, (x) => ({
    scheme: x.scheme || '',
    status: x.status || 'referred',
    district: x.district || '',
    overdue: x.overdue || '',
  }));
  const [clientOverdue, setClientOverdue] = useState(false);
  const list = usePaged(
    async (cursor) => {
      const params = {
        scheme: query.scheme,
        status: status === 'any' ? undefined : status,
        district: query.district,
        overdue: query.overdue ? 'true' : undefined,
        limit: 50,
        cursor,
      };
      try {
        const page = await api.get('/api/v1/referrals', params);
        setClientOverdue(false);
        return page;
      } catch (e) {
        // An API without the `overdue` filter refuses the unknown parameter: ask without it
        // and keep the overdue ones here.
        if (query.overdue && e.status === 400) {
          const page = await api.get('/api/v1/referrals', { ...params, overdue: undefined });
          setClientOverdue(true);
          return page;
        }
        throw e;
      }
    },
    [query.scheme, status, query.district, query.overdue],
  );
  const [busy, setBusy] = useState(null); // `${id}:${to}` while a step is sent
  const [keys, setKeys] = useState({}); // Idempotency-Keys kept after a network failure
  const [rejecting, setRejecting] = useState(null); // the referral being rejected
  const [reason, setReason] = useState('');
  const [rejectErrors, setRejectErrors] = useState([]);

  const apply = (e) => {
    e.preventDefault();
    go('/inbox', {
      scheme: form.scheme,
      status: form.status === 'referred' ? '' : form.status,
      district: form.district,
      overdue: form.overdue ? 'true' : '',
    });
  };

  const step = async (row, to, why) => {
    const slot = `${row.id}:${to}`;
    const key = keys[slot] || api.newKey();
    setBusy(slot);
    try {
      const updated = await moveReferral(row.id, to, why, key);
      setKeys(({ [slot]: _, ...rest }) => rest);
      list.update((items) => items.map((r) => (r.id === row.id ? { ...r, status: updated.status, updated_at: updated.updated_at } : r)));
      announce(t(`inbox.done_${STEP_ID[to]}`, { number: row.referral_number }));
      return true;
    } catch (e) {
      if (e.name === 'NetworkError' || e instanceof api.NetworkError) {
        setKeys((k) => ({ ...k, [slot]: key }));
        announce(t('inbox.network_retry'), 'error');
      } else {
        setKeys(({ [slot]: _, ...rest }) => rest);
        if (e.current) {
          list.update((items) => items.map((r) => (r.id === row.id ? { ...r, status: e.current.status, updated_at: e.current.updated_at } : r)));
          announce(t('inbox.now_status', { number: row.referral_number, status: refStatusLabel(e.current.status) }), 'error');
        } else if (e.status === 422 && to === 'rejected') {
          throw e;
        } else {
          announce(`${row.referral_number}: ${problemText(e)}`, 'error');
        }
      }
      return false;
    } finally {
      setBusy(null);
    }
  };

  const openReject = (row) => {
    setRejecting(row);
    setRejectErrors([]);
  };
  const submitReject = async (e) => {
    e.preventDefault();
    if (!reason.trim()) {
      setRejectErrors([{ path: 'reject.reason', message: t('inbox.reason_missing') }]);
      return;
    }
    setRejectErrors([]);
    try {
      if (await step(rejecting, 'rejected', reason.trim())) {
        setRejecting(null);
        setReason('');
      }
    } catch (err) {
      setRejectErrors(problemErrors(err).map((x) => ({ ...x, path: 'reject.reason' })));
    }
  };

  if (list.error && list.error.status === 403) {
    return html`<div class="notice notice-warn" role="status" data-testid="inbox-unavailable">
      <h2>${t('inbox.unavailable_title')}</h2>
      <p>${t('inbox.unavailable_body')}</p>
      <p><a href="#/inbox?tab=households">${t('inbox.tab_households')}</a></p>
    </div>`;
  }

  const items = (list.items || []).filter((r) => !clientOverdue || isOverdue(r));
  const rows = items.map((r) => [
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
        const label = t(`inbox.step_${STEP_ID[to]}`);
        return html`<button type="button" class="button secondary" disabled=${busy === slot}
          data-testid=${`${STEP_ID[to]}-${r.referral_number}`}
          onClick=${() => (to === 'rejected' ? openReject(r) : step(r, to))}>
          ${keys[slot] ? t('inbox.retry_step', { step: label }) : label}<span class="visually-hidden"> ${r.referral_number}</span>
        </button>`;
      })}
    </span>`,
  ]);

  return html`<section aria-labelledby="inbox-ref-title">
    <h2 id="inbox-ref-title" class="visually-hidden">${t('inbox.tab_referrals')}</h2>
    <form class="filters" role="search" onSubmit=${apply} novalidate>
      <${Field} path="inbox.scheme" kind="select" label=${t('inbox.scheme')} value=${form.scheme} onInput=${set('scheme')}
        options=${[['', t('inbox.all_my_schemes')], ...mine.map((id) => [id, schemeName(refData, id)])]} />
      <${Field} path="inbox.status" kind="select" label=${t('inbox.status')} value=${form.status} onInput=${(v) => set('status')(v || 'referred')}
        options=${[...REFERRAL_STATUSES.map((s) => [s, refStatusLabel(s)]), ['any', t('inbox.any_status')]]} />
      <${Field} path="inbox.district" kind="select" label=${t('inbox.district')} value=${form.district} onInput=${set('district')}
        options=${districtOptions(refData, t('inbox.all_districts'))} />
      <${Field} path="inbox.overdue" kind="select" label=${t('inbox.deadline')} value=${form.overdue} onInput=${set('overdue')}
        options=${[['', t('inbox.any_deadline')], ['true', t('inbox.only_overdue')]]} />
      <div class="filter-actions">
        <button class="button" type="submit" data-testid="inbox-apply">${t('inbox.apply')}</button>
        <a class="button secondary" href="#/inbox" data-testid="inbox-clear">${t('inbox.clear')}</a>
      </div>
    </form>
    ${list.error ? html`<${LoadError} error=${list.error} retry=${list.reload} />` : null}
    ${!list.items && !list.error ? html`<${Loading} />` : null}
    ${list.items
      ? html`<p role="status" data-testid="inbox-count">
            ${t('inbox.count', { n: items.length })}${list.next ? ` ${t('inbox.more_exist')}` : ''}
          </p>
          ${clientOverdue ? html`<p class="hint">${t('inbox.overdue_here')}</p>` : null}
          <${Table} caption=${t('inbox.caption')}
            head=${[t('inbox.col_number'), t('inbox.col_household'), t('inbox.col_scheme'), t('inbox.col_district'), t('inbox.col_referred'), t('inbox.col_deadline'), t('inbox.col_status'), t('inbox.col_actions')]}
            rows=${rows} empty=${t('inbox.none')} />
          ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
          ${list.next
            ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid="inbox-more">${t('common.more')}</button>`
            : null}`
      : null}
    <${Dialog} id="reject-dialog" open=${!!rejecting} title=${t('inbox.reject_title', { number: rejecting?.referral_number || '' })}
      onClose=${() => setRejecting(null)}>
      <form onSubmit=${submitReject} novalidate>
        <${ErrorSummary} errors=${rejectErrors} />
        <p>${t('inbox.reject_body')}</p>
        <${Field} path="reject.reason" kind="textarea" label=${t('inbox.reason')} hint=${t('inbox.reason_hint')} value=${reason}
          onInput=${setReason} error=${rejectErrors[0]?.message} required maxlength="500" dir="auto" data-testid="reject-reason" />
        <button class="button warning" type="submit" disabled=${busy === `${rejecting?.id}:rejected`} data-testid="reject-confirm">
          ${rejecting && keys[`${rejecting.id}:rejected`] ? t('inbox.retry_step', { step: t('inbox.reject_confirm') }) : t('inbox.reject_confirm')}
        </button>
        <button class="button secondary" type="button" onClick=${() => setRejecting(null)} data-testid="reject-cancel">${t('common.cancel')}</button>
      </form>
    </${Dialog}>
  </section>`;
}

function HouseholdsTab({ query, refData, mine }) {
  const scheme = query.scheme && mine.includes(query.scheme) ? query.scheme : mine[0] || '';
  const hstatus = query.hstatus === 'undetermined' ? 'undetermined' : 'eligible';
  const [form, set] = useFilters(query, (x) => ({
    scheme: x.scheme && mine.includes(x.scheme) ? x.scheme : mine[0] || '',
    hstatus: x.hstatus === 'undetermined' ? 'undetermined' : 'eligible',
    district: x.district || '',
  }));
  const list = usePaged(
    (cursor) =>
      scheme
        ? api.get(`/api/v1/schemes/${encodeURIComponent(scheme)}/households`, {
            status: hstatus,
            district: query.district,
            limit: 50,
            cursor,
          })
        : Promise.resolve({ items: [], next_cursor: null }),
    [scheme, hstatus, query.district],
  );
  const apply = (e) => {
    e.preventDefault();
    go('/inbox', { tab: 'households', scheme: form.scheme, hstatus: form.hstatus === 'eligible' ? '' : form.hstatus, district: form.district });
  };
  const rows = (list.items || []).map((h) => [
    html`<span data-testid="household-number">${ltr(h.household_number)}</span>`,
    html`<bdi>${districtName(refData, h.district)}</bdi>`,
    html`<${Status} status=${h.status} label=${t(`status.${h.status}`)} />`,
    showDate(h.as_of),
    html`<code>${ltr(String(h.rules_version || '').slice(0, 12))}</code>`,
  ]);
  return html`<section aria-labelledby="inbox-hh-title">
    <h2 id="inbox-hh-title" class="visually-hidden">${t('inbox.tab_households')}</h2>
    <p class="hint">${t('inbox.households_lead')}</p>
    <form class="filters" role="search" onSubmit=${apply} novalidate>
      <${Field} path="inbox.h_scheme" kind="select" label=${t('inbox.scheme')} value=${form.scheme} onInput=${set('scheme')}
        options=${mine.map((id) => [id, schemeName(refData, id)])} />
      <${Field} path="inbox.hstatus" kind="select" label=${t('inbox.h_status')} value=${form.hstatus} onInput=${(v) => set('hstatus')(v || 'eligible')}
        options=${['eligible', 'undetermined'].map((s) => [s, t(`status.${s}`)])} />
      <${Field} path="inbox.h_district" kind="select" label=${t('inbox.district')} value=${form.district} onInput=${set('district')}
        options=${districtOptions(refData, t('inbox.all_districts'))} />
      <div class="filter-actions">
        <button class="button" type="submit" data-testid="households-apply">${t('inbox.h_apply')}</button>
      </div>
    </form>
    ${list.error ? html`<${LoadError} error=${list.error} retry=${list.reload} />` : null}
    ${!list.items && !list.error ? html`<${Loading} />` : null}
    ${list.items
      ? html`<p role="status" data-testid="households-count">
            ${t('inbox.h_count', { n: list.items.length })}${list.next ? ` ${t('inbox.more_exist')}` : ''}
          </p>
          <${Table} caption=${t('inbox.h_caption', { scheme: schemeName(refData, scheme) })}
            head=${[t('inbox.col_household'), t('inbox.col_district'), t('inbox.h_status'), t('inbox.h_as_of'), t('inbox.h_rules')]}
            rows=${rows} empty=${t('inbox.h_none')} />
          ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
          ${list.next
            ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid="households-more">${t('common.more')}</button>`
            : null}`
      : null}
  </section>`;
}
