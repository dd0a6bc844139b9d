// Rule changes: the proposals (`#/rule-changes?status=&scheme=`) and a new one
// (`#/rule-changes/new`); one proposal: rule-proposal.js; activations, freezes, versions: rule-versions.js.

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { CODE, StatusMark, bdi, enc, loadWords, mayPropose, onValid, refusal, schemeNames, schemeOptions } from '../lib/changes.js';
import { Filters, Form, go, isoOf, reference, useForm } from '../lib/listing.js';
import { PagedTable, useListing } from '../lib/paged.js';
import { Field, PageTitle, announce, html, problemText, useLoad, useState, waiting } from '../lib/ui.js';
import { ProposalPage } from './rule-proposal.js';
import { ActivationsTab, VersionsTab } from './rule-versions.js';

const TABS = { changes: Proposals, activations: ActivationsTab, versions: VersionsTab };

export function RuleChangesPage({ route }) {
  const ready = useLoad(loadWords, []);
  const [ref] = useLoad(reference, []);
  const [tab, id] = route.params;
  if (!ready[0]) return waiting(ready);
  if (id) return id === 'new' ? html`<${NewProposal} ref=${ref} />` : html`<${ProposalPage} id=${id} query=${route.query} ref=${ref} />`;
  const Tab = TABS[tab];
  return html`<div>
    <${PageTitle} sub=${t('rc.lead')}>${t('rc.title')}</${PageTitle}>
    <nav class="tabs" aria-label=${t('rc.title')}>
      <ul>
        ${Object.keys(TABS).map((x) => html`<li><a href=${`#/rule-${x}`} aria-current=${x === tab ? 'page' : undefined}>${t(`rc.tab_${x}`)}</a></li>`)}
      </ul>
    </nav>
    <${Tab} query=${route.query} ref=${ref} />
  </div>`;
}

function Proposals({ query, ref }) {
  const statuses = ['proposed', 'approved', 'active', 'rejected', 'withdrawn'].map((s) => [s, t(`rc.status.${s}`)]);
  const fields = [{ name: 'status', kind: 'select', label: t('rc.status'), options: [['', t('rc.any')], ...statuses] }];
  const load = (cursor) => api.get('/api/v1/rule-proposals', { status: query.status, limit: 50, cursor });
  const { list, ...filters } = useListing({ path: '/rule-changes', prefix: 'proposals', query, fields, load });
  const rows = (list.items || []).map((p) => [
    html`<a href=${`#/rule-changes/${enc(p.id)}`} data-testid="proposal-link">${bdi(p.summary)}</a>`,
    html`<${StatusMark} status=${p.status} />`,
    schemeNames(ref, [...p.schemes, ...p.retire]),
    showDate(p.effective_from),
    html`${bdi(p.author)} · ${showTime(p.created_at)}`,
  ]);
  return html`${mayPropose() ? html`<p><a class="button" href="#/rule-changes/new" data-testid="new-proposal">${t('rc.new')}</a></p>` : null}
    <${Filters} filters=${filters} fields=${fields}><button class="button secondary" type="submit">${t('rc.apply')}</button></${Filters}>
    <${PagedTable} list=${list} name="proposals" count=${t('rc.count', { n: rows.length })} caption=${t('rc.title')} rows=${rows} empty=${t('rc.none')}
      head=${[t('rc.summary'), t('rc.status'), t('rc.schemes'), t('rc.effective'), t('rc.author')]} refused=${filters.refused} />`;
}

function NewProposal({ ref }) {
  const f = useForm({ summary: '', effective_from: '', from: '', retire: '' });
  const [files, setFiles] = useState([]);
  const add = (name, text) => setFiles((fs) => [...fs.filter((x) => x.name !== name), { name, text }]);
  const setFile = (i, k) => (v) => setFiles((fs) => fs.map((x, j) => (j === i ? { ...x, [k]: v } : x)));
  const options = schemeOptions(ref);
  const fields = [
    { name: 'summary', kind: 'textarea', label: t('rc.summary'), hint: t('rc.summary_hint'), required: true, dir: 'auto', maxlength: 500 },
    { name: 'effective_from', kind: 'date', label: t('rc.effective'), hint: t('rc.effective_hint'), required: true },
    { name: 'retire', label: t('rc.retire'), hint: t('rc.retire_hint'), suggest: options.map(([id]) => id), ...CODE },
    { name: 'from', kind: 'select', label: t('rc.start_from'), hint: t('rc.files_hint'), options: [['', t('common.choose')], ...options] },
  ];
  const start = async () => {
    const id = f.form.from;
    try {
      // The text in force is the scheme's newest version.
      const [v] = (await api.get('/api/v1/rule-versions', { scheme: id, limit: 1 })).items;
      add(`${id}.yaml`, v ? (await api.get(`/api/v1/rule-versions/${enc(v.id)}`)).text : '');
    } catch (e) {
      announce(problemText(e), 'error');
    }
  };
  const upload = async (e) => {
    for (const file of e.target.files) add(file.name, await file.text());
    e.target.value = '';
  };
  const send = async () => {
    const { summary, effective_from, retire } = f.form;
    const body = { summary: summary.trim(), effective_from: isoOf(effective_from), files: Object.fromEntries(files.map((x) => [x.name.trim(), x.text])), retire: retire.split(/[\s,]+/).filter(Boolean) };
    if (!files.length && !body.retire.length) return f.setErrors([{ path: 'new.from', message: t('rc.files_missing') }]);
    const { data } = await api.post('/api/v1/rule-proposals', body);
    announce(t('rc.proposed'));
    go(`/rule-changes/${enc(data.id)}`);
  };
  // A mistake in `files.<name>` or at `<name>:line:column` belongs to that file's text, one in `retire[i]` to the list.
  const at = (field) => {
    const name = /^(?:files\.)?([^:]+\.yaml)/.exec(field)?.[1];
    return name ? `new.files.${Math.max(0, files.findIndex((x) => x.name === name))}` : `new.${field.replace(/\.\d+$/, '')}`;
  };
  return html`<div>
    <p><a href="#/rule-changes">${t('rc.back')}</a></p>
    <${PageTitle} sub=${t('rc.new_lead')}>${t('rc.new')}</${PageTitle}>
    <${Form} f=${f} prefix="new" fields=${fields} onSubmit=${onValid(f, 'new', fields, send, (err) => refusal(err, 'new.summary', at))}>
      <button type="button" class="button secondary" disabled=${!f.form.from} onClick=${start} data-testid="new-start">${t('rc.start')}</button>
      <button type="button" class="button secondary" onClick=${() => add(`new-${files.length + 1}.yaml`, '')}>${t('rc.empty_file')}</button>
      <div class="field"><label for="f-new-upload">${t('rc.upload')}</label><input type="file" id="f-new-upload" accept=".yaml,.yml" multiple onChange=${upload} /></div>
      ${files.map(
        (x, i) => html`<div class="member-block">
          <${Field} path=${`new.files.${i}.name`} label=${t('rc.file_name')} value=${x.name} onInput=${setFile(i, 'name')} ...${CODE} />
          <${Field} path=${`new.files.${i}`} kind="textarea" label=${html`${t('rc.file_text')} ${ltr(x.name)}`} value=${x.text} onInput=${setFile(i, 'text')}
            error=${f.err(`new.files.${i}`)} rows="16" ...${CODE} />
          <button type="button" class="button secondary" onClick=${() => setFiles((fs) => fs.filter((_, j) => j !== i))}>
            ${t('rc.remove_file')} <span class="visually-hidden">${x.name}</span></button>
        </div>`,
      )}
      <p><button class="button" type="submit" disabled=${f.busy} data-testid="new-submit">${t(f.busy ? 'rc.proposing' : 'rc.propose')}</button></p>
    </${Form}>
  </div>`;
}
