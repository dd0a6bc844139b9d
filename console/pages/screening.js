// Screen a household against every scheme and refer it: three groups (eligible, needs
// information with "collect: …" links to the inputs, not eligible with the failed
// criteria), every eligible scheme pre-ticked, one confirm, then the referral numbers.

import * as api from '../api.js';
import { lang, local, ltr, showDate, t } from '../i18n.js';
import { schemeCatalogue } from '../lib/schemes.js';
import {
  Field,
  FormDialog,
  PageTitle,
  Status,
  announce,
  html,
  problemText,
  useLoad,
  useRef,
  useState,
  waiting,
} from '../lib/ui.js';

async function load(id, fresh) {
  const base = `/api/v1/households/${encodeURIComponent(id)}`;
  const [household, screening, catalogue, referrals] = await Promise.all([
    api.get(base),
    fresh ? api.post(`${base}/screenings`, undefined).then((r) => r.data) : api.get(`${base}/screenings/latest`),
    schemeCatalogue(),
    api.get(`${base}/referrals`),
  ]);
  return { household, screening, catalogue, referrals: referrals.items };
}

const GROUPS = ['eligible', 'undetermined', 'not_eligible'];

export function ScreeningPage({ route }) {
  const id = route.params[0];
  const fresh = route.query.view !== 'latest';
  const state = useLoad(() => load(id, fresh), [id, fresh]);
  return state[0] ? html`<${Result} data=${state[0]} />` : waiting(state);
}

function memberName(household, memberId) {
  const m = household.members.find((x) => x.id === memberId);
  if (!m) return '';
  return lang() === 'ur' && m.full_name_ur ? m.full_name_ur : m.full_name;
}

/** Missing fields, each (member's) field once, keyed. */
const once = (missing) => new Map(missing.map((f) => [`${f.member_id || ''}.${f.field}`, f]));

/** "collect: …" — each missing field once, linking to its input. */
function Collect({ household, missing }) {
  const items = [...once(missing).values()];
  if (!items.length) return null;
  return html`<p class="collect"><strong>${t('screening.collect')}</strong>${' '}
    ${items.map((f, i) => {
      const href = f.member_id
        ? `#/households/${household.id}/members/${f.member_id}?focus=${f.field}`
        : `#/households/${household.id}/edit?focus=${f.field}`;
      return html`${i ? '، ' : ''}<a href=${href} data-testid="collect-link">${t(`field.${f.field}`)}${f.member_id ? html` (<bdi>${memberName(household, f.member_id)}</bdi>)` : null}</a>`;
    })}
  </p>`;
}

/** The fields whose answers would settle most undetermined decisions, most useful first. */
function CollectFirst({ household, results }) {
  const counts = new Map();
  for (const r of results) {
    for (const [k, f] of once(r.missing_fields)) counts.set(k, { ...f, n: (counts.get(k)?.n || 0) + 1 });
  }
  const top = [...counts.values()].sort((a, b) => b.n - a.n).slice(0, 8);
  if (!top.length) return null;
  return html`<div class="notice" data-testid="collect-first">
    <h3>${t('screening.collect_first')}</h3>
    <ul>${top.map((f) => html`<li><${Collect} household=${household} missing=${[f]} /> ${t('screening.settles', { n: f.n })}</li>`)}</ul>
  </div>`;
}

function Result({ data }) {
  const { household, screening, catalogue } = data;
  const referredSchemes = new Set(data.referrals.filter((r) => ['referred', 'acknowledged', 'enrolled'].includes(r.status)).map((r) => r.scheme));
  const byStatus = Object.fromEntries(GROUPS.map((g) => [g, screening.results.filter((r) => r.status === g)]));
  const [ticked, setTicked] = useState(() => new Set(byStatus.eligible.map((r) => r.scheme).filter((s) => !referredSchemes.has(s))));
  const [confirm, setConfirm] = useState(false);
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState([]);
  const [made, setMade] = useState(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState(null);
  const key = useRef({ body: null, key: null });

  const status = Object.fromEntries(screening.results.map((r) => [r.scheme, r.status]));
  const chosen = [...ticked];
  const overrides = chosen.filter((s) => status[s] !== 'eligible');
  const toggle = (s) =>
    setTicked((set) => {
      const next = new Set(set);
      if (next.has(s)) next.delete(s);
      else next.add(s);
      return next;
    });
  const name = (r) => (lang() === 'ur' ? r.name_ur || r.name : r.name);

  const refer = async () => {
    if (overrides.length && !reason.trim()) {
      setErrors([{ path: 'override_reason', message: t('screening.reason_needed') }]);
      return;
    }
    const body = { schemes: chosen, ...(overrides.length ? { override_reason: reason.trim() } : {}) };
    const text = JSON.stringify(body);
    if (key.current.body !== text) key.current = { body: text, key: api.newKey() };
    setBusy(true);
    setFailure(null);
    try {
      const res = await api.post(`/api/v1/households/${household.id}/referrals`, body, { key: key.current.key });
      setMade(res.data.items);
      setConfirm(false);
      announce(t('screening.referred', { n: res.data.items.length }));
    } catch (err) {
      if (err.status === 422) setErrors(err.errors.map((e) => ({ path: e.field, message: e.message })));
      else setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<div>
    <${PageTitle} sub=${html`${t('screening.as_of')} ${showDate(screening.as_of)} · ${t('household.version')} ${ltr(screening.household_version)}`}>
      ${t('screening.title')} ${ltr(household.household_number)}
    </${PageTitle}>
    <p class="actions no-print">
      <a href=${`#/households/${household.id}`}>${t('screening.back')}</a>
      ${made ? null : html`<button type="button" class="button" data-testid="refer-all" disabled=${!chosen.length}
        onClick=${() => setConfirm(true)}>${t('screening.refer_all', { n: chosen.length })}</button>`}
    </p>
    ${made
      ? html`<div class="notice notice-ok" role="status" data-testid="referrals-made">
          <h2>${t('screening.made_title')}</h2>
          <ul>${made.map(
            (r) => html`<li><a href=${`#/referrals/${r.id}`} data-testid="referral-link">${ltr(r.referral_number)}</a> — ${local(catalogue[r.scheme]?.name) || r.scheme}</li>`,
          )}</ul>
        </div>`
      : null}
    ${GROUPS.map((g) => {
      const list = byStatus[g];
      const body = html`<ul class="scheme-list plain">
        ${list.map(
          (r) => html`<li data-testid=${`scheme-${r.scheme}`}>
            <div class="scheme-row">
              ${made || referredSchemes.has(r.scheme)
                ? null
                : html`<span class="check"><input type="checkbox" id=${`f-refer-${r.scheme}`} checked=${ticked.has(r.scheme)}
                    onChange=${() => toggle(r.scheme)} /><label for=${`f-refer-${r.scheme}`}><span class="visually-hidden">${t('screening.refer_to')} </span>${name(r)}</label></span>`}
              ${made || referredSchemes.has(r.scheme) ? html`<strong>${name(r)}</strong>` : null}
              <${Status} status=${r.status} label=${t(`status.${r.status}`)} />
              <span class="badge">${t(`dept.${r.department}`)}</span>
              ${referredSchemes.has(r.scheme) ? html`<span class="badge">${t('screening.already_referred')}</span>` : null}
              <a href=${`#/schemes/${r.scheme}`}>${t('screening.about')}<span class="visually-hidden"> ${name(r)}</span></a>
            </div>
            ${g === 'not_eligible'
              ? html`<ul class="criteria">${r.criteria.filter((c) => c.outcome === false).map(
                  (c) => html`<li>${t('screening.failed')}: ${lang() === 'ur' ? c.label_ur || c.label : c.label}</li>`,
                )}</ul>`
              : null}
            ${g === 'undetermined' ? html`<${Collect} household=${household} missing=${r.missing_fields} />` : null}
          </li>`,
        )}
      </ul>`;
      return html`<section aria-labelledby=${`g-${g}`} data-testid=${`group-${g}`}>
        ${g === 'not_eligible'
          ? html`<details><summary><h2 id=${`g-${g}`} class="inline-h">${t(`screening.group_${g}`)} (${ltr(list.length)})</h2></summary>${body}</details>`
          : html`<h2 id=${`g-${g}`}>${t(`screening.group_${g}`)} (${ltr(list.length)})</h2>
              ${g === 'undetermined' ? html`<${CollectFirst} household=${household} results=${list} />` : null}
              ${list.length ? body : html`<p class="empty">${t('common.none')}</p>`}`}
      </section>`;
    })}
    <${FormDialog} id="confirm-refer-dialog" open=${confirm} onClose=${() => setConfirm(false)} title=${t('screening.confirm_title', { n: chosen.length })}
      onSubmit=${refer} errors=${errors} busy=${busy} confirm=${t('screening.confirm')} testid="confirm-refer">
      ${failure ? html`<div class="notice notice-error" role="alert">${problemText(failure)}</div>` : null}
      <ul>${chosen.map((s) => html`<li>${local(catalogue[s]?.name) || s}${status[s] !== 'eligible' ? html` — <strong>${t(`status.${status[s]}`)}</strong>` : null}</li>`)}</ul>
      ${overrides.length
        ? html`<${Field} path="override_reason" kind="textarea" label=${t('screening.override_reason')} hint=${t('screening.override_hint')}
            value=${reason} onInput=${setReason} required dir="auto" error=${errors.find((e) => e.path === 'override_reason')?.message} />`
        : null}
    </${FormDialog}>
  </div>`;
}
