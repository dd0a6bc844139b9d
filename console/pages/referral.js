// One referral (`#/referrals/{id}`): its status, deadline, ledger of transitions with who
// and when, the steps the signed-in role may take, and the slip to print.

import * as api from '../api.js';
import { local, ltr, showDate, showTime, t } from '../i18n.js';
import { schemeCatalogue } from '../lib/schemes.js';
import { can } from '../lib/session.js';
import { Summary, useForm } from '../lib/listing.js';
import { Field, FormDialog, PageTitle, Status, Table, announce, fieldErrors, html, problemText, useLoad, useState, waiting } from '../lib/ui.js';

/** Steps that need a reason (the API refuses them without one). */
const NEEDS_REASON = ['rejected', 'withdrawn'];

export function ReferralPage({ route }) {
  const id = route.params[0];
  const load = useLoad(
    async () => {
      const [referral, catalogue] = await Promise.all([api.get(`/api/v1/referrals/${encodeURIComponent(id)}`), schemeCatalogue()]);
      return { referral, scheme: catalogue[referral.scheme] };
    },
    [id],
  );
  const [step, setStep] = useState(null);
  const [data, , reload] = load;
  if (!data) return waiting(load);
  const { referral: r, scheme } = data;
  return html`<div>
    <${PageTitle} sub=${local(scheme?.name) || r.scheme}>${t('referral.title')} ${ltr(r.referral_number)}</${PageTitle}>
    <p><${Status} status=${r.status} label=${t(`status.${r.status}`)} /></p>
    <${Summary} items=${[
      [t('referral.scheme'), html`<a href=${`#/schemes/${r.scheme}`}>${local(scheme?.name) || r.scheme}</a>`],
      [t('referral.department'), t(`dept.${scheme?.department || r.scheme}`)],
      [t('field.district'), r.district],
      [t('referral.eligibility'), t(`status.${r.eligibility}`)],
      r.override_reason && [t('referral.override_reason'), html`<bdi>${r.override_reason}</bdi>`],
      [t('referral.referred_at'), html`${showTime(r.referred_at)} · <bdi>${r.referred_by}</bdi>`],
      [t('referral.acknowledge_by'), showDate(r.acknowledge_by)],
      can('household_read') && [t('household.title'), html`<a href=${`#/households/${r.household_id}`}>${t('referral.open_household')}</a>`],
    ]} />
    <div class="actions no-print">
      ${can('household_read')
        ? html`<a class="button" href=${`#/referrals/${r.id}/slip`} data-testid="print-slip">${t('referral.print_slip')}</a>`
        : null}
      ${(r.next_steps || []).map(
        (s) => html`<button type="button" class=${s === 'rejected' || s === 'withdrawn' ? 'button warning' : 'button secondary'}
          data-testid=${`step-${s}`} onClick=${() => setStep(s)}>${t(`referral.do_${s}`)}</button>`,
      )}
    </div>
    <h2>${t('referral.ledger')}</h2>
    <${Table} caption=${t('referral.ledger')}
      head=${[t('referral.when'), t('referral.from'), t('referral.to'), t('referral.who'), t('referral.reason')]}
      rows=${r.ledger.map((e) => [
        showTime(e.occurred_at),
        e.from_status ? t(`status.${e.from_status}`) : '—',
        t(`status.${e.to_status}`),
        html`<bdi>${e.actor}</bdi>`,
        e.reason ? html`<bdi>${e.reason}</bdi>` : '',
      ])} />
    <${StepDialog} referral=${r} step=${step} onClose=${() => setStep(null)}
      onDone=${() => {
        setStep(null);
        reload();
      }} />
  </div>`;
}

/** Confirms one lifecycle step; rejection and withdrawal need a reason. */
function StepDialog({ referral, step, onClose, onDone }) {
  const f = useForm({ reason: '' });
  const needsReason = NEEDS_REASON.includes(step);
  const reason = f.form.reason.trim();
  const submit = () => {
    if (needsReason && !reason) return f.setErrors([{ path: 'reason', message: t('referral.reason_needed') }]);
    f.run(
      async () => {
        await api.post(`/api/v1/referrals/${referral.id}/transitions`, { to: step, ...(reason ? { reason } : {}) });
        announce(t('referral.moved', { status: t(`status.${step}`) }));
        f.setForm({ reason: '' });
        f.setErrors([]);
        onDone();
      },
      (err) => {
        const list = fieldErrors(err);
        return list.length ? list : [{ path: 'reason', message: problemText(err) }];
      },
    );
  };
  return html`<${FormDialog} id="step-dialog" open=${!!step} onClose=${onClose} onSubmit=${submit} errors=${f.errors} busy=${f.busy}
    title=${step ? t('referral.confirm_step', { status: t(`status.${step}`) }) : ''} confirm=${t('common.confirm')} testid="confirm-step">
    <p>${ltr(referral.referral_number)}</p>
    ${needsReason || step === 'acknowledged' || step === 'enrolled'
      ? html`<${Field} path="reason" kind="textarea" label=${t('referral.reason')} dir="auto" value=${f.form.reason} onInput=${f.set('reason')}
          required=${needsReason} error=${f.err('reason')} />`
      : null}
  </${FormDialog}>`;
}
