// One rule change (`#/rule-changes/{id}`): its changes in plain words and as a text diff, its
// impact reports (`?report=`, a household's old and new trace `&hh=`), approval naming the report
// shown, rejection, withdrawal, and the decisions so far.

import * as api from '../api.js';
import { enumLabel, local, ltr, showDate, showTime, t, tOr } from '../i18n.js';
import { Changes, StatusMark, TextDiff, bdi, code, enc, mayPropose, onValid, schemeNames } from '../lib/changes.js';
import { Form, Section, Summary, districtName, districtOptions, go, isoOf, schemeName, useForm } from '../lib/listing.js';
import { session } from '../lib/session.js';
import { Dialog, Mark, PageTitle, Table, announce, html, useEffect, useLoad, useState, waiting } from '../lib/ui.js';

const fmt = new Intl.NumberFormat('en-US').format;
const num = (n) => ltr(fmt(n));
const MOVES = ['gained', 'lost', 'newly_undetermined', 'resolved'];
const COLS = [...MOVES, 'unchanged'];
const col = (m) => t(`rc.col.${m}`);
const where = (ref, d) => (d ? bdi(districtName(ref, d)) : t('rc.all_districts'));
const ACTIONS = { approve: 'approval', reject: 'rejection', withdraw: 'withdrawal' };

export function ProposalPage({ id, query, ref }) {
  const state = useLoad(() => api.get(`/api/v1/rule-proposals/${enc(id)}`), [id]);
  const [p, , reload] = state;
  const [doing, setDoing] = useState(null);
  const back = html`<p><a href="#/rule-changes">${t('rc.back')}</a></p>`;
  if (!p) return html`<div>${back}${waiting(state)}</div>`;
  const path = `/rule-changes/${enc(id)}`;
  const reports = [...p.impact_reports].sort((a, b) => b.computed_at.localeCompare(a.computed_at));
  const shown = reports.find((r) => String(r.id) === query.report);
  const report = (r, text) => html`<a href=${`#${path}?report=${enc(r)}`} data-testid="report-link">${text}</a>`;

  return html`<div>
    ${back}
    <${PageTitle} sub=${t('rc.proposal')}>${bdi(p.summary)}</${PageTitle}>
    <${Summary} items=${[
      [t('rc.status'), html`<${StatusMark} status=${p.status} testid="proposal-status" />`],
      [t('rc.schemes'), schemeNames(ref, p.schemes)],
      p.retire.length && [t('rc.retired'), schemeNames(ref, p.retire)],
      [t('rc.effective'), showDate(p.effective_from)],
      [t('rc.author'), html`${bdi(p.author)} · ${showTime(p.created_at)}`],
      p.rollback_of && [t('rc.rollback_of'), code(p.rollback_of)],
    ]} />
    ${p.author === session()?.username && p.status === 'proposed' ? html`<p class="notice" data-testid="own-proposal">${t('rc.own')}</p>` : null}
    <p class="actions">
      ${Object.keys(ACTIONS).map((a) =>
        !p.may[a] ? null : a === 'approve' && !shown ? html`<span class="hint">${t('rc.approve_open')}</span>`
          : html`<button type="button" class=${a === 'approve' ? 'button' : 'button secondary'} onClick=${() => setDoing(a)} data-testid=${a}>${t(`rc.do_${a}`)}</button>`,
      )}
    </p>
    <${Decide} p=${p} kind=${doing} report=${shown} onClose=${() => setDoing(null)} onDone=${reload} />
    <${Section} id="p-changes" title=${t('rc.changes')}><${Changes} changes=${p.changes} ref=${ref} /></${Section}>
    <${Section} id="p-diff" title=${t('rc.diff')}><${TextDiff} diffs=${p.text_diff} /></${Section}>
    <${Section} id="p-impact" title=${t('rc.impact')}>
      <p>${t('rc.impact_lead')}</p>
      <${Table} caption=${t('rc.impact')} head=${[t('rc.computed'), t('rc.purpose'), t('rc.as_of'), t('rc.district')]} empty=${t('rc.no_reports')}
        rows=${reports.map((r) => [r === shown ? showTime(r.computed_at) : report(r.id, showTime(r.computed_at)), t(`rc.purpose.${r.purpose}`), showDate(r.as_of), where(ref, r.district)])} />
      ${p.may.compute_impact
        ? html`<${Compute} id=${id} ref=${ref} onDone=${(r) => {
            reload();
            go(path, { report: r.id });
          }} />`
        : null}
    </${Section}>
    ${query.report ? html`<${Report} key=${query.report} id=${query.report} ref=${ref} path=${path} hh=${query.hh} />` : null}
    <${Section} id="p-decisions" title=${t('rc.decisions')}>
      <ol data-testid="decisions">
        ${p.decisions.map(
          (d) => html`<li><strong>${tOr(`rc.decision.${d.kind}`, d.kind)}</strong> · ${d.by && d.by !== 'system' ? bdi(d.by) : t('rc.by_service')} · ${showTime(d.at)}
            ${d.comment ? html`<br />${bdi(d.comment)}` : null}
            ${[d.impact_report_id, d.activation_report_id].map((r) => r && html`<br />${report(r, html`${t('rc.report_named')} ${ltr(String(r).slice(0, 8))}`)}`)}</li>`,
        )}
      </ol>
    </${Section}>
  </div>`;
}

/** Approve (naming the report shown), reject or withdraw (with a reason); a refusal shows in the dialog. */
function Decide({ p, kind, report, onClose, onDone }) {
  const f = useForm({ text: '' });
  const approve = kind === 'approve';
  const fields = [{ name: 'text', kind: 'textarea', label: t(approve ? 'rc.comment' : 'rc.reason'), required: !approve, dir: 'auto', maxlength: 1000 }];
  useEffect(() => f.setErrors([]), [kind]);
  const send = async () => {
    const text = f.form.text.trim();
    await api.post(`/api/v1/rule-proposals/${enc(p.id)}/${ACTIONS[kind]}`, approve ? { impact_report_id: report.id, comment: text || null } : { reason: text });
    f.setForm({ text: '' });
    announce(t(`rc.done_${kind}`));
    onClose();
    onDone();
  };
  return html`<${Dialog} id="decide" open=${!!kind} title=${kind && t(`rc.do_${kind}`)} onClose=${onClose}>
    <p>${kind && t(`rc.${kind}_body`)}</p>
    ${approve ? html`<p>${t('rc.report_seen')} ${showTime(report.computed_at)}</p>` : null}
    <${Form} f=${f} prefix="decide" fields=${fields} onSubmit=${onValid(f, 'decide', fields, send)}>
      <button type="submit" class=${approve ? 'button' : 'button warning'} disabled=${f.busy} data-testid="decide-confirm">${kind && t(`rc.do_${kind}`)}</button>
      <button type="button" class="button secondary" onClick=${onClose}>${t('common.cancel')}</button>
    </${Form}>
  </${Dialog}>`;
}

/** Computes an impact report: slow on a large registry, so it says so meanwhile. */
function Compute({ id, ref, onDone }) {
  const f = useForm({ as_of: '', district: '' });
  const fields = [
    { name: 'as_of', kind: 'date', label: t('rc.as_of'), hint: t('rc.as_of_hint') },
    { name: 'district', kind: 'select', label: t('rc.district'), options: districtOptions(ref, t('rc.all_districts')) },
  ];
  const send = async () => {
    const { data } = await api.post(`/api/v1/rule-proposals/${enc(id)}/impact`, undefined, { query: { as_of: isoOf(f.form.as_of), district: f.form.district } });
    announce(t('rc.computed_done'));
    onDone(data);
  };
  return html`<${Form} f=${f} prefix="impact" fields=${fields} onSubmit=${onValid(f, 'impact', fields, send)} class="filters">
    <div class="filter-actions"><button class="button" type="submit" disabled=${f.busy} data-testid="compute-impact">${t(f.busy ? 'rc.computing' : 'rc.compute')}</button></div>
    ${f.busy ? html`<p role="status"><progress aria-label=${t('rc.computing')}></progress> ${t('rc.computing_hint')}</p>` : null}
  </${Form}>`;
}

// A suppressed cell (1–4 households) reads "<5" and is heard as "fewer than 5".
const cell = (n) =>
  n == null ? html`<span class="empty" data-testid="suppressed"><span aria-hidden="true">${ltr('<5')}</span><span class="visually-hidden">${t('rc.fewer_than_5')}</span></span>` : num(n);
const group = (ref, by, key) => (by === 'district' ? bdi(districtName(ref, key)) : by === 'sex' ? enumLabel('sex', key) : ltr(key));

function Report({ id, ref, path, hh }) {
  const state = useLoad(() => api.get(`/api/v1/impact-reports/${enc(id)}`), [id]);
  const [r] = state;
  if (!r) return waiting(state);
  const name = (s) => local(r.schemes.find((x) => x.scheme === s)?.name) || schemeName(ref, s);
  const max = Math.max(1, ...r.schemes.flatMap((s) => MOVES.map((m) => s[m])));
  const by = (b) => `${name(b.scheme)}: ${t(`rc.by.${b.by}`)}`;
  return html`<${Section} id="report" title=${html`${t('rc.report')} ${showTime(r.computed_at)}`} data-testid="impact-report">
    <${Summary} items=${[
      [t('rc.as_of'), showDate(r.as_of)],
      [t('rc.district'), where(ref, r.district)],
      [t('rc.computed_by'), bdi(r.computed_by)],
      [t('rc.data_time'), showTime(r.data_time)],
      [t('rc.households'), num(r.registry_households)],
      [t('rc.rules_before'), code(r.rules_before.slice(0, 12))],
      [t('rc.rules_after'), code(r.rules_after.slice(0, 12))],
      [t('rc.engine'), code(r.engine_version)],
    ]} />
    <p>${t('rc.suppressed_note', { n: r.suppressed_below })}</p>
    <ul>${r.notes.map((n) => html`<li lang="en" dir="ltr">${n}</li>`)}</ul>
    ${hh ? html`<${Trace} report=${id} hh=${hh} back=${`#${path}?report=${enc(id)}`} name=${name} />` : null}
    <h3>${t('rc.per_scheme')}</h3>
    <${Table} caption=${t('rc.per_scheme')} numeric=${[1, 2, 3, 4, 5, 6, 7]} head=${[t('rc.scheme'), col('eligible_before'), col('eligible_after'), ...COLS.map(col)]}
      rows=${r.schemes.map((s) => [bdi(name(s.scheme)), ...['eligible_before', 'eligible_after', ...COLS].map((m) => num(s[m]))])} />
    <figure class="chart" aria-labelledby="impact-chart" data-testid="impact-chart">
      <figcaption id="impact-chart"><strong>${t('rc.chart')}</strong> <span class="hint">${t('rc.chart_note')}</span></figcaption>
      <div aria-hidden="true">
        ${r.schemes.map(
          (s) => html`<div class="chart-group"><strong>${name(s.scheme)}</strong>
            ${MOVES.map((m) => html`<div class="bar-line"><span>${col(m)}</span><span class="bar"><span style=${{ inlineSize: `${(100 * s[m]) / max}%` }}></span></span><span>${fmt(s[m])}</span></div>`)}
          </div>`,
        )}
      </div>
    </figure>
    ${r.breakdowns.map(
      (b) => html`<h3>${by(b)}</h3>
        <${Table} caption=${by(b)} numeric=${[1, 2, 3, 4, 5]} head=${[t(`rc.by_col.${b.by}`), ...COLS.map(col)]}
          rows=${b.rows.map((x) => [group(ref, b.by, x.key), ...COLS.map((m) => cell(x[m]))])} />`,
    )}
    <h3>${t('rc.missing')}</h3>
    <p class="hint">${t('rc.missing_hint')}</p>
    <${Table} caption=${t('rc.missing')} numeric=${[2]} head=${[t('rc.scheme'), t('rc.field'), t('rc.households')]} empty=${t('rc.no_missing')}
      rows=${r.missing_fields.map((m) => [name(m.scheme), tOr(`field.${m.field}`, m.field), num(m.households)])} />
    <h3>${t('rc.samples')}</h3>
    <p class="hint">${t('rc.samples_hint')}</p>
    <${Table} caption=${t('rc.samples')} head=${[t('rc.scheme'), t('rc.change'), t('rc.group'), t('rc.sample_households')]} empty=${t('rc.no_samples')}
      rows=${r.samples.map((s) => [
        name(s.scheme),
        col(s.change),
        s.by === 'total' ? t('rc.by.total') : html`${t(`rc.by_col.${s.by}`)}: ${group(ref, s.by, s.key)}`,
        // Auditors read the counts; a household's trace is for the administrators.
        html`<span class="actions">${s.households.map((n) => (mayPropose() ? html`<a href=${`#${path}?report=${enc(id)}&hh=${enc(n)}`} data-testid="sample">${ltr(n)}</a>` : ltr(n)))}</span>`,
      ])} />
  </${Section}>`;
}

const OUTCOME = { true: ['good', 'rc.met'], false: ['bad', 'rc.not_met'], null: ['warn', 'rc.unknown'] };
const outcome = (c) => (c ? html`<${Mark} kind=${OUTCOME[c.outcome][0]} label=${t(OUTCOME[c.outcome][1])} />` : '—');
const status = (s) => (s.status ? html`<${Mark} kind=${{ eligible: 'good', not_eligible: 'bad' }[s.status] || 'warn'} label=${t(`status.${s.status}`)} />` : '—');

/** A household's decision under the rules in force and the proposal, criterion by criterion. */
function Trace({ report, hh, back, name }) {
  const state = useLoad(() => api.get(`/api/v1/impact-reports/${enc(report)}/households/${enc(hh)}`), [report, hh]);
  const [x] = state;
  return html`<div class="panel" data-testid="trace">
    <h3>${t('rc.trace')} ${ltr(hh)}</h3>
    <p><a href=${back}>${t('rc.trace_close')}</a></p>
    ${x
      ? x.schemes.map(({ scheme, before, after }) => {
          const find = (side, id) => side.criteria.find((c) => c.id === id);
          const ids = [...new Set([...before.criteria, ...after.criteria].map((c) => c.id))];
          return html`<h4>${name(scheme)}: ${t('rc.before')} ${status(before)} · ${t('rc.after')} ${status(after)}</h4>
            <${Table} caption=${`${hh} ${name(scheme)}`} head=${[t('rc.criterion'), t('rc.before'), t('rc.after')]}
              rows=${ids.map((id) => [local((find(before, id) || find(after, id)).label) || ltr(id), outcome(find(before, id)), outcome(find(after, id))])} />`;
        })
      : waiting(state)}
  </div>`;
}
