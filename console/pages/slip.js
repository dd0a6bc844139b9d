// The referral slip, printed from the console on A4 or A5: English and Urdu side by side,
// the referral number large enough to read across a desk, numbers and dates isolated so they
// read correctly in the Urdu column. No ID numbers on the slip.

import * as api from '../api.js';
import { ltr, showDate, t, tIn } from '../i18n.js';
import { schemeCatalogue } from '../lib/schemes.js';
import { html, useEffect, useLoad, waiting } from '../lib/ui.js';

async function load(id) {
  const referral = await api.get(`/api/v1/referrals/${encodeURIComponent(id)}`);
  const [household, catalogue] = await Promise.all([
    api.get(`/api/v1/households/${encodeURIComponent(referral.household_id)}`),
    schemeCatalogue(),
  ]);
  return { referral, household, scheme: catalogue[referral.scheme] || {} };
}

function Column({ l, referral: r, household: hh, scheme }) {
  const head = hh.members.find((m) => m.relation_to_head === 'head');
  const text = (v) => (v && typeof v === 'object' ? v[l] || v.en : v);
  const dir = l === 'ur' ? 'rtl' : 'ltr';
  return html`<section class="slip-col" lang=${l} dir=${dir}>
    <h2>${tIn(l, 'slip.heading')}</h2>
    <p>${tIn(l, 'slip.number')}</p>
    <p class="slip-number">${ltr(r.referral_number)}</p>
    <dl class="summary-list">
      <dt>${tIn(l, 'slip.household')}</dt><dd>${ltr(hh.household_number)}</dd>
      <dt>${tIn(l, 'slip.head')}</dt>
      <dd>${head ? html`<bdi>${head.full_name}</bdi>${head.full_name_ur ? html`<br /><bdi lang="ur" dir="rtl">${head.full_name_ur}</bdi>` : null}` : ''}</dd>
      <dt>${tIn(l, 'slip.scheme')}</dt><dd>${text(scheme.name) || r.scheme}</dd>
      <dt>${tIn(l, 'slip.department')}</dt><dd>${tIn(l, `dept.${scheme.department}`)}</dd>
      <dt>${tIn(l, 'slip.status')}</dt><dd>${tIn(l, `status.${r.status}`)}</dd>
      <dt>${tIn(l, 'slip.referred_on')}</dt><dd>${showDate(r.referred_at)}</dd>
      <dt>${tIn(l, 'slip.report_by')}</dt><dd>${showDate(r.acknowledge_by)}</dd>
      <dt>${tIn(l, 'slip.office')}</dt><dd>${text(scheme.office)}</dd>
    </dl>
    <h3>${tIn(l, 'slip.documents')}</h3>
    <ul>${(scheme.documents || []).map((d) => html`<li>${text(d)}</li>`)}</ul>
  </section>`;
}

export function SlipPage({ route }) {
  const id = route.params[0];
  const state = useLoad(() => load(id), [id]);
  useEffect(() => () => document.documentElement.classList.remove('print-a5'), []);
  const [data] = state;
  if (!data) return waiting(state);
  const print = (a5) => {
    document.documentElement.classList.toggle('print-a5', a5);
    window.print();
  };
  return html`<div>
    <div class="actions no-print">
      <h1 class="visually-hidden">${t('slip.title')} ${data.referral.referral_number}</h1>
      <a href=${`#/referrals/${data.referral.id}`}>${t('slip.back')}</a>
      <button type="button" class="button" data-testid="print-a4" onClick=${() => print(false)}>${t('slip.print_a4')}</button>
      <button type="button" class="button secondary" data-testid="print-a5" onClick=${() => print(true)}>${t('slip.print_a5')}</button>
    </div>
    <article class="slip" aria-label=${t('slip.title')}>
      <div class="slip-cols">
        <${Column} l="en" ...${data} />
        <${Column} l="ur" ...${data} />
      </div>
    </article>
  </div>`;
}
