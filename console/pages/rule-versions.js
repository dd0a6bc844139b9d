// Versions (`#/rule-versions?scheme=&v=&against=`): a version's text or its difference from another,
// a proposal going back to it; pending activations and freeze periods (`#/rule-activations`).

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { Changes, StatusMark, TextDiff, bdi, code, enc, mayFreeze, mayPropose, onValid, refusal, schemeNames, schemeOptions } from '../lib/changes.js';
import { Filters, Form, Section, go, isoOf, schemeName, useForm } from '../lib/listing.js';
import { PagedTable, useListing } from '../lib/paged.js';
import { Mark, Table, announce, html, useLoad, waiting } from '../lib/ui.js';

const who = (v) => bdi([v.proposed_by, v.approved_by, v.activated_by].map((x) => (x === 'system' ? t('rc.by_service') : x || '—')).join(' · '));
const named = (ref, v) => html`${schemeName(ref, v.scheme)} ${ltr(`#${v.seq}`)}`;

export function VersionsTab({ query, ref }) {
  const fields = [{ name: 'scheme', kind: 'select', label: t('rc.scheme'), options: [['', t('rc.any')], ...schemeOptions(ref)] }];
  const { list, ...listing } = useListing({ path: '/rule-versions', prefix: 'versions', query, fields, load: (cursor) => api.get('/api/v1/rule-versions', { scheme: query.scheme, limit: 50, cursor }) });
  const link = (q, text, testid) => html`<a href=${`#/rule-versions${api.query({ scheme: query.scheme, ...q })}`} data-testid=${testid}>${text}</a>`;
  const rows = (list.items || []).map((v) => [
    html`${link({ v: v.id }, named(ref, v), 'version-link')}${query.v && query.v !== String(v.id) ? html`<br />${link({ v: query.v, against: v.id }, t('rc.compare'), 'compare')}` : null}`,
    html`${bdi(v.summary)} ${v.retired ? html`<${Mark} kind="bad" label=${t('rc.retired_mark')} />` : null}`,
    showDate(v.effective_from),
    showTime(v.activated_at),
    who(v),
  ]);
  return html`<${Filters} filters=${listing} fields=${fields}><button class="button secondary" type="submit">${t('rc.apply')}</button></${Filters}>
    ${query.v ? html`<${Version} key=${query.v + query.against} id=${query.v} against=${query.against} ref=${ref} />` : null}
    <${PagedTable} list=${list} name="versions" count=${t('rc.versions_count', { n: rows.length })} caption=${t('rc.versions')} rows=${rows} empty=${t('rc.no_versions')}
      head=${[t('rc.version'), t('rc.summary'), t('rc.effective'), t('rc.activated'), t('rc.who')]} />`;
}

function Version({ id, against, ref }) {
  const state = useLoad(() => api.get(`/api/v1/rule-versions/${enc(id)}`, { against }), []);
  const [v] = state;
  const f = useForm({ summary: '', effective_from: '' });
  if (!v) return waiting(state);
  // Going back to a version is a proposal like any other (impact, a second person).
  const fields = [
    { name: 'summary', kind: 'textarea', label: t('rc.summary'), required: true, dir: 'auto', maxlength: 500 },
    { name: 'effective_from', kind: 'date', label: t('rc.effective'), required: true },
  ];
  const rollback = async () => {
    const { data } = await api.post(`/api/v1/rule-versions/${enc(id)}/rollback`, { summary: f.form.summary.trim(), effective_from: isoOf(f.form.effective_from) });
    announce(t('rc.proposed'));
    go(`/rule-changes/${enc(data.id)}`);
  };
  return html`<${Section} id="version" title=${named(ref, v)} class="panel" data-testid="version">
    <p>${code(v.sha256.slice(0, 16))} ${v.proposal_id ? html`· <a href=${`#/rule-changes/${enc(v.proposal_id)}`}>${t('rc.proposal')}</a>` : null}</p>
    <p class="hint">${t('rc.compare_hint')}</p>
    ${against
      ? html`<h3>${t('rc.changes')}</h3><${Changes} changes=${v.changes?.length && [{ scheme: v.scheme, kind: 'changed', items: v.changes }]} ref=${ref} />
          <h3>${t('rc.diff')}</h3><${TextDiff} diffs=${{ [v.file_name]: v.text_diff }} />`
      : html`<details><summary>${t('rc.text')}</summary><pre class="rule" dir="ltr" lang="en">${v.text}</pre></details>`}
    ${mayPropose() && !v.in_force
      ? html`<details><summary data-testid="rollback">${t('rc.rollback')}</summary>
          <p>${t('rc.rollback_body')}</p>
          <${Form} f=${f} prefix="rollback" fields=${fields} onSubmit=${onValid(f, 'rollback', fields, rollback)}>
            <button type="submit" class="button" disabled=${f.busy} data-testid="rollback-confirm">${t('rc.propose')}</button>
          </${Form}>
        </details>`
      : null}
  </${Section}>`;
}

const items = (x) => (Array.isArray(x) ? x : x.items);

export function ActivationsTab({ ref }) {
  const pending = useLoad(() => api.get('/api/v1/rule-activations'), []);
  const freezes = useLoad(() => api.get('/api/v1/rule-freezes'), []);
  const f = useForm({ starts_on: '', ends_on: '', reason: '' });
  const fields = [
    { name: 'starts_on', kind: 'date', label: t('rc.starts_on'), required: true },
    { name: 'ends_on', kind: 'date', label: t('rc.ends_on'), required: true },
    { name: 'reason', label: t('rc.reason'), required: true, dir: 'auto', maxlength: 500 },
  ];
  const period = (z) => html`${showDate(z.starts_on)} – ${showDate(z.ends_on)}`;
  const again = () => {
    freezes[2]();
    pending[2]();
  };
  const add = async () => {
    const { starts_on, ends_on, reason } = f.form;
    await api.post('/api/v1/rule-freezes', { starts_on: isoOf(starts_on), ends_on: isoOf(ends_on), reason: reason.trim() });
    f.setForm({ starts_on: '', ends_on: '', reason: '' });
    announce(t('rc.freeze_added'));
    again();
  };
  const lift = async (z) => {
    try {
      await api.send('DELETE', `/api/v1/rule-freezes/${enc(z.id)}`);
      announce(t('rc.freeze_lifted'));
      again();
    } catch (err) {
      announce(refusal(err)[0].message, 'error');
    }
  };
  return html`<${Section} id="pending" title=${t('rc.pending')}>
      <p>${t('rc.pending_lead')}</p>
      ${pending[0]
        ? html`<${Table} caption=${t('rc.pending')} head=${[t('rc.summary'), t('rc.status'), t('rc.schemes'), t('rc.activates_at'), t('rc.freeze')]} empty=${t('rc.no_pending')}
            rows=${items(pending[0]).map(({ proposal: p, activates_at, frozen_by: z }) => [
              html`<a href=${`#/rule-changes/${enc(p.id)}`}>${bdi(p.summary)}</a>`,
              html`<${StatusMark} status=${p.status} />`,
              schemeNames(ref, p.schemes),
              showTime(activates_at),
              z ? html`<${Mark} kind="warn" label=${t('rc.frozen')} /> ${bdi(z.reason)}` : '—',
            ])} />`
        : waiting(pending)}
    </${Section}>
    <${Section} id="freezes" title=${t('rc.freezes')}>
      <p>${t('rc.freezes_lead')}</p>
      ${freezes[0]
        ? html`<${Table} caption=${t('rc.freezes')} head=${[t('rc.period'), t('rc.reason'), t('rc.declared_by'), '']} empty=${t('rc.no_freezes')}
            rows=${items(freezes[0]).map((z) => [
              period(z),
              bdi(z.reason),
              html`${bdi(z.created_by)} · ${showTime(z.created_at)}`,
              mayFreeze() ? html`<button type="button" class="button secondary" onClick=${() => lift(z)} data-testid="lift-freeze">${t('rc.lift')}</button>` : '',
            ])} />`
        : waiting(freezes)}
      ${mayFreeze()
        ? html`<h3>${t('rc.freeze_add')}</h3>
            <${Form} f=${f} prefix="freeze" fields=${fields} onSubmit=${onValid(f, 'freeze', fields, add)} class="narrow">
              <button class="button" type="submit" disabled=${f.busy} data-testid="add-freeze">${t('rc.freeze_add')}</button>
            </${Form}>`
        : null}
    </${Section}>`;
}
