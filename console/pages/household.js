// The household hub (`#/households/{id}`): who lives there, its version, the latest
// screening, referrals and their status, history; and every action on it.

import * as api from '../api.js';
import { dateToIso, enumLabel, local, ltr, showDate, showTime, t, tOr } from '../i18n.js';
import { schemeCatalogue } from '../lib/schemes.js';
import { Field, FormDialog, PageTitle, Status, Table, announce, fieldErrors, html, problemText, useEffect, useLoad, useState, waiting } from '../lib/ui.js';
import { HOUSEHOLD_FIELDS, maskIdNumber } from '../lib/fields.js';
import { enumOptions, showValue } from '../lib/forms.js';
import { loadDraft } from '../lib/drafts.js';
import { Section, Summary, useForm } from '../lib/listing.js';

/** The household, its referrals, latest screening and history, loaded together. */
async function loadHub(id) {
  const base = `/api/v1/households/${encodeURIComponent(id)}`;
  const [household, referrals, latest, history, names] = await Promise.all([
    api.get(base),
    api.get(`${base}/referrals`),
    api.get(`${base}/screenings/latest`).catch((e) => {
      if (e.status === 404) return null;
      throw e;
    }),
    api.get(`${base}/history`, { limit: 50 }),
    schemeCatalogue(),
  ]);
  return { household, referrals: referrals.items, latest, history: history.items, names };
}

export function headOf(household) {
  return (household.members || []).find((m) => m.relation_to_head === 'head') || null;
}

export function HouseholdPage({ route }) {
  const id = route.params[0];
  const load = useLoad(() => loadHub(id), [id]);
  const [dialog, setDialog] = useState(null); // {kind: 'remove'|'head', member}
  const [data, , reload] = load;
  if (!data) return waiting(load);
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

    <${Section} id="h-details" title=${t('household.details')}>
      <${Summary} items=${[
        ...HOUSEHOLD_FIELDS.filter((f) => f.name !== 'district').map((f) => [t(`field.${f.name}`), showValue(f, hh[f.name])]),
        [t('household.registered'), html`<bdi>${hh.registered_by}</bdi> · ${showTime(hh.created_at)}`],
      ]} />
    </${Section}>

    <${Section} id="h-members" title=${html`${t('household.members')} (${ltr(hh.members.length)})`}>
      <${Table} caption=${t('household.members')}
        head=${[t('field.full_name'), t('field.relation_to_head'), t('field.sex'), t('field.date_of_birth'), t('field.id_number'), t('common.actions')]}
        rows=${hh.members.map((m, i) => [
          html`<a href=${`#/households/${hh.id}/members/${m.id}`} data-testid=${`member-${i}`}><bdi>${m.full_name}</bdi></a>${m.full_name_ur ? html`<br /><bdi lang="ur" dir="rtl">${m.full_name_ur}</bdi>` : null}`,
          enumLabel('relation_to_head', m.relation_to_head),
          enumLabel('sex', m.sex),
          showDate(m.date_of_birth),
          m.id_number ? ltr(maskIdNumber(m.id_number)) : enumLabel('id_type', m.id_type),
          html`<span class="actions">
            <a href=${`#/households/${hh.id}/members/${m.id}`}>${t('common.edit')}<span class="visually-hidden"> ${m.full_name}</span></a>
            ${m.relation_to_head !== 'head'
              ? html`<button type="button" class="link-button" data-testid=${`make-head-${i}`} onClick=${() => setDialog({ kind: 'head', member: m })}>${t('household.make_head')}<span class="visually-hidden"> ${m.full_name}</span></button>
                  <button type="button" class="link-button" data-testid=${`remove-member-${i}`} onClick=${() => setDialog({ kind: 'remove', member: m })}>${t('household.remove')}<span class="visually-hidden"> ${m.full_name}</span></button>`
              : null}
          </span>`,
        ])} />
      ${!!hh.deceased_members.length && html`<h3>${t('household.deceased')}</h3><ul>${hh.deceased_members.map((m) => html`<li><a href=${`#/households/${hh.id}/members/${m.id}`}><bdi>${m.full_name}</bdi></a> ${showDate(m.date_of_death)}</li>`)}</ul>`}
    </${Section}>

    <${Section} id="h-screening" title=${t('household.latest_screening')}>
      ${latest
        ? html`<p>${t('household.screened_on', { date: '' })}${showDate(latest.as_of)} —
            ${['eligible', 'undetermined', 'not_eligible'].map(
              (s) => html`<span class="scheme-row-inline"> <${Status} status=${s} label=${`${t(`status.${s}`)}: ${count(latest, s)}`} /> </span>`,
            )}
            ${latest.household_version !== hh.version ? html`<span class="notice-inline"> ${t('household.screening_stale')}</span>` : null}
          </p>
          <p><a href=${`#/households/${hh.id}/screening?view=latest`}>${t('household.see_screening')}</a></p>`
        : html`<p class="empty">${t('household.not_screened')}</p>`}
    </${Section}>

    <${Section} id="h-referrals" title=${t('household.referrals')}>
      <${Table} caption=${t('household.referrals')} empty=${t('household.no_referrals')}
        head=${[t('referral.number'), t('referral.scheme'), t('referral.status'), t('referral.acknowledge_by'), t('referral.referred_at')]}
        rows=${referrals.map((r) => [
          html`<a href=${`#/referrals/${r.id}`} data-testid="referral-link">${ltr(r.referral_number)}</a>`,
          local(names[r.scheme]?.name) || r.scheme,
          html`<${Status} status=${r.status} label=${t(`status.${r.status}`)} />`,
          showDate(r.acknowledge_by),
          showTime(r.referred_at),
        ])} />
    </${Section}>

    <${Section} id="h-history" title=${t('household.history')}>
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
    </${Section}>

    <${MemberActionDialog} dialog=${dialog} household=${hh} onClose=${() => setDialog(null)}
      onDone=${() => {
        setDialog(null);
        reload();
      }} />
  </div>`;
}

const warningText = (w) => tOr(`warning.${w.code}`, w.message);

function count(screening, status) {
  return screening.summary?.[status] ?? (screening.results || []).filter((r) => r.status === status).length;
}



/** Remove a member (with a reason) or make them the head (the old head gets a relation). */
function MemberActionDialog({ dialog, household, onClose, onDone }) {
  const f = useForm({});
  const remove = dialog?.kind === 'remove';
  const path = remove ? 'reason' : 'previous_head_relation';
  // Each opening starts empty: a reason chosen for one member never carries to another.
  useEffect(() => {
    f.setForm({});
    f.setErrors([]);
  }, [dialog]);
  const options = remove
    ? enumOptions('removal_reason')
    : enumOptions('relation_to_head').filter(([v]) => v !== 'head');
  const submit = () => {
    const value = f.form[path];
    if (!value) return f.setErrors([{ path, message: t('common.choose') }]);
    const base = `/api/v1/households/${household.id}`;
    const [url, body, done] = remove
      ? [`${base}/members/${dialog.member.id}/removal`, { reason: value, date_of_death: dateToIso(f.form.date_of_death) || null }, 'household.removed']
      : [`${base}/head`, { member_id: dialog.member.id, previous_head_relation: value }, 'household.head_changed'];
    f.run(
      async () => {
        await api.send('POST', url, { body, ifMatch: household.version });
        announce(t(done, { name: dialog.member.full_name }));
        onDone();
      },
      (err) => {
        const list = fieldErrors(err);
        return list.length ? list : [{ path, message: err.status === 412 ? t('conflict.reload') : problemText(err) }];
      },
    );
  };
  return html`<${FormDialog} id="member-action" open=${!!dialog} onClose=${onClose} onSubmit=${submit} errors=${f.errors} busy=${f.busy}
    title=${dialog ? t(remove ? 'household.remove_title' : 'household.head_title', { name: dialog.member.full_name }) : ''}
    confirm=${t(remove ? 'household.remove' : 'household.make_head')} danger=${remove} testid="confirm-member-action">
    <${Field} path=${path} kind="select" label=${t(remove ? 'household.removal_reason' : 'household.previous_head_relation')}
      value=${f.form[path]} onInput=${f.set(path)} required error=${f.err(path)} options=${[['', t('common.choose')], ...options]} />
    ${f.form.reason === 'deceased' ? html`<${Field} path="date_of_death" label=${t('field.date_of_death')} hint=${t('check.date')} value=${f.form.date_of_death} onInput=${f.set('date_of_death')} error=${f.err('date_of_death')} />` : null}
  </${FormDialog}>`;
}
