// The household hub (`#/households/{id}`): who lives there, its version, the latest
// screening, referrals and their status, history; and every action on it.

import * as api from '../api.js';
import { enumLabel, local, ltr, showDate, showTime, t } from '../i18n.js';
import { schemeNames } from '../lib/schemes.js';
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
  fieldErrors,
  html,
  problemText,
  useEffect,
  useLoad,
  useState,
} from '../lib/ui.js';
import { HOUSEHOLD_FIELDS, enumValues } from '../lib/fields.js';
import { showValue } from '../lib/forms.js';
import { loadDraft } from '../lib/drafts.js';

/** The household, its referrals, latest screening and history, loaded together. */
async function loadHub(id) {
  const [household, referrals, latest, history, names] = await Promise.all([
    api.send('GET', `/api/v1/households/${encodeURIComponent(id)}`),
    api.get(`/api/v1/households/${encodeURIComponent(id)}/referrals`),
    api.get(`/api/v1/households/${encodeURIComponent(id)}/screenings/latest`).catch((e) => {
      if (e.status === 404) return null;
      throw e;
    }),
    api.get(`/api/v1/households/${encodeURIComponent(id)}/history`, { limit: 50 }),
    schemeNames(),
  ]);
  return { household: household.data, referrals: referrals.items, latest, history: history.items, names };
}

export function headOf(household) {
  return (household.members || []).find((m) => m.relation_to_head === 'head') || null;
}

export function HouseholdPage({ route }) {
  const id = route.params[0];
  const [data, error, reload] = useLoad(() => loadHub(id), [id]);
  const [dialog, setDialog] = useState(null); // {kind: 'remove'|'head', member}
  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const { household: hh, referrals, latest, history, names } = data;
  const head = headOf(hh);
  const warnings = route.query.saved ? loadDraft(`warnings.${hh.id}`) || [] : [];

  return html`<div>
    <${PageTitle}>
      ${t('household.title')} <span data-testid="household-number">${ltr(hh.household_number)}</span>
    </${PageTitle}>
    <p class="hub-head">
      ${head ? html`<span><bdi>${head.full_name}</bdi>${head.full_name_ur ? html` · <bdi lang="ur" dir="rtl">${head.full_name_ur}</bdi>` : null}</span>` : null}
      <span class="badge">${t('field.district')}: ${hh.district}</span>
      <span class="badge" data-testid="household-version">${t('household.version')} ${ltr(hh.version)}</span>
    </p>
    ${route.query.saved ? html`<div class="notice notice-ok" role="status">${t('household.saved')}</div>` : null}
    ${warnings.length
      ? html`<div class="notice notice-warn" data-testid="warnings">
          <h2>${t('household.warnings')}</h2>
          <ul>${warnings.map((w) => html`<li>${warningText(w)}</li>`)}</ul>
        </div>`
      : null}
    <div class="actions no-print">
      <a class="button" href=${`#/households/${hh.id}/screening`} data-testid="screen">${t('household.screen')}</a>
      <a class="button secondary" href=${`#/households/${hh.id}/edit`} data-testid="edit-household">${t('household.edit')}</a>
      <a class="button secondary" href=${`#/households/${hh.id}/members/new`} data-testid="add-member">${t('household.add_member')}</a>
    </div>

    <section aria-labelledby="h-details">
      <h2 id="h-details">${t('household.details')}</h2>
      <dl class="summary-list">
        ${HOUSEHOLD_FIELDS.filter((f) => f.name !== 'district').map(
          (f) => html`<dt>${t(`field.${f.name}`)}</dt><dd>${showValue(f, hh[f.name])}</dd>`,
        )}
        <dt>${t('household.registered')}</dt><dd><bdi>${hh.registered_by}</bdi> · ${showTime(hh.created_at)}</dd>
      </dl>
    </section>

    <section aria-labelledby="h-members">
      <h2 id="h-members">${t('household.members')} (${ltr(hh.members.length)})</h2>
      <${Table} caption=${t('household.members')}
        head=${[t('field.full_name'), t('field.relation_to_head'), t('field.sex'), t('field.date_of_birth'), t('field.id_number'), t('common.actions')]}
        rows=${hh.members.map((m, i) => [
          html`<a href=${`#/households/${hh.id}/members/${m.id}`} data-testid=${`member-${i}`}><bdi>${m.full_name}</bdi></a>${m.full_name_ur ? html`<br /><bdi lang="ur" dir="rtl">${m.full_name_ur}</bdi>` : null}`,
          enumLabel('relation_to_head', m.relation_to_head),
          enumLabel('sex', m.sex),
          showDate(m.date_of_birth),
          m.id_number ? ltr(formatId(m.id_number)) : enumLabel('id_type', m.id_type),
          html`<span class="actions">
            <a href=${`#/households/${hh.id}/members/${m.id}`}>${t('common.edit')}<span class="visually-hidden"> ${m.full_name}</span></a>
            ${m.relation_to_head !== 'head'
              ? html`<button type="button" class="link-button" data-testid=${`make-head-${i}`} onClick=${() => setDialog({ kind: 'head', member: m })}>${t('household.make_head')}<span class="visually-hidden"> ${m.full_name}</span></button>
                  <button type="button" class="link-button" data-testid=${`remove-member-${i}`} onClick=${() => setDialog({ kind: 'remove', member: m })}>${t('household.remove')}<span class="visually-hidden"> ${m.full_name}</span></button>`
              : null}
          </span>`,
        ])} />
    </section>

    <section aria-labelledby="h-screening">
      <h2 id="h-screening">${t('household.latest_screening')}</h2>
      ${latest
        ? html`<p>${t('household.screened_on', { date: '' })}${showDate(latest.as_of)} —
            ${['eligible', 'undetermined', 'not_eligible'].map(
              (s) => html`<span class="scheme-row-inline"> <${Status} status=${s} label=${`${t(`status.${s}`)}: ${count(latest, s)}`} /> </span>`,
            )}
            ${latest.household_version !== hh.version ? html`<span class="notice-inline"> ${t('household.screening_stale')}</span>` : null}
          </p>
          <p><a href=${`#/households/${hh.id}/screening?view=latest`}>${t('household.see_screening')}</a></p>`
        : html`<p class="empty">${t('household.not_screened')}</p>`}
    </section>

    <section aria-labelledby="h-referrals">
      <h2 id="h-referrals">${t('household.referrals')}</h2>
      <${Table} caption=${t('household.referrals')} empty=${t('household.no_referrals')}
        head=${[t('referral.number'), t('referral.scheme'), t('referral.status'), t('referral.acknowledge_by'), t('referral.referred_at')]}
        rows=${referrals.map((r) => [
          html`<a href=${`#/referrals/${r.id}`} data-testid="referral-link">${ltr(r.referral_number)}</a>`,
          local(names[r.scheme]) || r.scheme,
          html`<${Status} status=${r.status} label=${t(`status.${r.status}`)} />`,
          showDate(r.acknowledge_by),
          showTime(r.referred_at),
        ])} />
    </section>

    <section aria-labelledby="h-history">
      <h2 id="h-history">${t('household.history')}</h2>
      <${Table} caption=${t('household.history')}
        head=${[t('household.version'), t('history.change'), t('history.fields'), t('history.by'), t('history.at')]}
        numeric=${[0]}
        rows=${history.map((e) => [
          ltr(e.version),
          t(`history.${e.change_type}`),
          html`${Object.keys(e.changes || {}).map((k) => t(`field.${k}`)).join('، ')}${e.reason ? ` (${enumLabel('removal_reason', e.reason)})` : ''}`,
          html`<bdi>${e.changed_by}</bdi>`,
          showTime(e.changed_at),
        ])} />
    </section>

    <${MemberActionDialog} dialog=${dialog} household=${hh} onClose=${() => setDialog(null)}
      onDone=${() => {
        setDialog(null);
        reload();
      }} />
  </div>`;
}

function warningText(w) {
  const key = `warning.${w.code}`;
  const text = t(key);
  return text === key ? w.message : text;
}

function count(screening, status) {
  return screening.summary?.[status] ?? (screening.results || []).filter((r) => r.status === status).length;
}

export function formatId(d) {
  const s = String(d);
  return s.length === 13 ? `${s.slice(0, 5)}-${s.slice(5, 12)}-${s.slice(12)}` : s;
}


/** Remove a member (with a reason) or make them the head (the old head gets a relation). */
function MemberActionDialog({ dialog, household, onClose, onDone }) {
  const [value, setValue] = useState(null);
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const open = !!dialog;
  const remove = dialog?.kind === 'remove';
  // Each opening starts empty: a reason chosen for one member never carries to another.
  useEffect(() => {
    setValue(null);
    setErrors([]);
  }, [dialog]);
  const path = remove ? 'reason' : 'previous_head_relation';
  const options = remove
    ? enumValues('removal_reason').map((v) => [v, enumLabel('removal_reason', v)])
    : enumValues('relation_to_head').filter((v) => v !== 'head').map((v) => [v, enumLabel('relation_to_head', v)]);
  const submit = async (e) => {
    e.preventDefault();
    if (!value) {
      setErrors([{ path, message: t('common.choose') }]);
      return;
    }
    setBusy(true);
    try {
      const base = `/api/v1/households/${household.id}`;
      if (remove) {
        await api.send('POST', `${base}/members/${dialog.member.id}/removal`, { body: { reason: value }, ifMatch: household.version });
        announce(t('household.removed', { name: dialog.member.full_name }));
      } else {
        await api.send('POST', `${base}/head`, {
          body: { member_id: dialog.member.id, previous_head_relation: value },
          ifMatch: household.version,
        });
        announce(t('household.head_changed', { name: dialog.member.full_name }));
      }
      setValue(null);
      setErrors([]);
      onDone();
    } catch (err) {
      const list = fieldErrors(err);
      setErrors(list.length ? list : [{ path, message: err.status === 412 ? t('conflict.reload') : problemText(err) }]);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} id="member-action" open=${open} onClose=${onClose}
    title=${dialog ? t(remove ? 'household.remove_title' : 'household.head_title', { name: dialog.member.full_name }) : ''}>
    <form onSubmit=${submit} novalidate>
      <${ErrorSummary} errors=${errors} />
      <${Field} path=${path} kind="select" label=${t(remove ? 'household.removal_reason' : 'household.previous_head_relation')}
        value=${value} onInput=${setValue} required error=${errors.find((x) => x.path === path)?.message}
        options=${[['', t('common.choose')], ...options]} />
      <button class=${remove ? 'button warning' : 'button'} type="submit" disabled=${busy} data-testid="confirm-member-action">
        ${t(remove ? 'household.remove' : 'household.make_head')}
      </button>
      <button class="button secondary" type="button" onClick=${onClose}>${t('common.cancel')}</button>
    </form>
  </${Dialog}>`;
}
