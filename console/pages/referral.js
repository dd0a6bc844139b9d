// One referral (`#/referrals/{id}`): its status, deadline, ledger of transitions with who
// and when, the steps the signed-in role may take, and the slip to print.

import * as api from '../api.js';
import { local, ltr, showDate, showTime, t } from '../i18n.js';
import { schemeCatalogue } from '../lib/schemes.js';
import { can } from '../lib/session.js';
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

/** Steps that need a reason (the API refuses them without one). */
const NEEDS_REASON = ['rejected', 'withdrawn'];

export function ReferralPage({ route }) {
  const id = route.params[0];
  const [data, error, reload] = useLoad(
    async () => {
      const [referral, catalogue] = await Promise.all([api.get(`/api/v1/referrals/${encodeURIComponent(id)}`), schemeCatalogue()]);
      return { referral, scheme: catalogue[referral.scheme] };
    },
    [id],
  );
  const [step, setStep] = useState(null);
  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const { referral: r, scheme } = data;
  return html`<div>
    <${PageTitle} sub=${local(scheme?.name) || r.scheme}>${t('referral.title')} ${ltr(r.referral_number)}</${PageTitle}>
    <p><${Status} status=${r.status} label=${t(`status.${r.status}`)} /></p>
    <dl class="summary-list">
      <dt>${t('referral.scheme')}</dt><dd><a href=${`#/schemes/${r.scheme}`}>${local(scheme?.name) || r.scheme}</a></dd>
      <dt>${t('referral.department')}</dt><dd>${t(`dept.${scheme?.department || r.scheme}`)}</dd>
      <dt>${t('field.district')}</dt><dd>${r.district}</dd>
      <dt>${t('referral.eligibility')}</dt><dd>${t(`status.${r.eligibility}`)}</dd>
      ${r.override_reason ? html`<dt>${t('referral.override_reason')}</dt><dd><bdi>${r.override_reason}</bdi></dd>` : null}
      <dt>${t('referral.referred_at')}</dt><dd>${showTime(r.referred_at)} · <bdi>${r.referred_by}</bdi></dd>
      <dt>${t('referral.acknowledge_by')}</dt><dd>${showDate(r.acknowledge_by)}</dd>
      ${can('household_read') ? html`<dt>${t('household.title')}</dt><dd><a href=${`#/households/${r.household_id}`}>${t('referral.open_household')}</a></dd>` : null}
    </dl>
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
export function StepDialog({ referral, step, onClose, onDone }) {
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const needsReason = NEEDS_REASON.includes(step);
  const submit = async (e) => {
    e.preventDefault();
    if (needsReason && !reason.trim()) {
      setErrors([{ path: 'reason', message: t('referral.reason_needed') }]);
      return;
    }
    setBusy(true);
    try {
      await api.post(`/api/v1/referrals/${referral.id}/transitions`, { to: step, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      announce(t('referral.moved', { status: t(`status.${step}`) }));
      setReason('');
      setErrors([]);
      onDone();
    } catch (err) {
      const list = (err.errors || []).map((x) => ({ path: x.field, message: x.message }));
      setErrors(list.length ? list : [{ path: 'reason', message: problemText(err) }]);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} id="step-dialog" open=${!!step} onClose=${onClose}
    title=${step ? t('referral.confirm_step', { status: t(`status.${step}`) }) : ''}>
    <form onSubmit=${submit} novalidate>
      <${ErrorSummary} errors=${errors} />
      <p>${ltr(referral.referral_number)}</p>
      ${needsReason || step === 'acknowledged' || step === 'enrolled'
        ? html`<${Field} path="reason" kind="textarea" label=${t('referral.reason')} dir="auto" value=${reason} onInput=${setReason}
            required=${needsReason} error=${errors.find((x) => x.path === 'reason')?.message} />`
        : null}
      <button type="submit" class="button" disabled=${busy} data-testid="confirm-step">${t('common.confirm')}</button>
      <button type="button" class="button secondary" onClick=${onClose}>${t('common.cancel')}</button>
    </form>
  </${Dialog}>`;
}
