// The administrator's districts (`#/admin/districts`): the list, a new district, renaming or
// moving one to another division, and (de)activating it (an inactive district takes no new
// households or assignments; what exists stays).

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { Form, Section, forgetDistricts, formErrors, useForm } from '../lib/listing.js';
import { Dialog, LoadError, Loading, Mark, PageTitle, Table, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';

const CODE = /^[a-z][a-z0-9-]{1,39}$/;
const districtPath = (code) => `/api/v1/districts/${encodeURIComponent(code)}`;

/** The name and division inputs both forms have (divisions in use are suggested). */
function nameFields(testid) {
  const common = { required: true, dir: 'auto', autocomplete: 'off' };
  return [
    { name: 'name', label: t('districts.name'), ...common, 'data-testid': `${testid}-name` },
    { name: 'division', label: t('districts.division'), ...common, list: 'division-list', 'data-testid': `${testid}-division` },
  ];
}

/** Complaints about an empty name or division. */
function checkNames(prefix, { name, division }) {
  return [
    !name && { path: `${prefix}.name`, message: t('districts.name_missing') },
    !division && { path: `${prefix}.division`, message: t('districts.division_missing') },
  ].filter(Boolean);
}

export function DistrictsPage() {
  const [list, error, reload] = useLoad(() => api.get('/api/v1/districts'), []);
  const [items, setItems] = useState(null); // the list as changed here
  const [editing, setEditing] = useState(null);
  const [busy, setBusy] = useState(null);
  const districts = items || (Array.isArray(list) ? list : list?.items) || null;

  const replace = (d) => {
    const known = districts.some((x) => x.code === d.code);
    setItems(known ? districts.map((x) => (x.code === d.code ? d : x)) : [...districts, d].sort((a, b) => a.code.localeCompare(b.code)));
    forgetDistricts();
  };
  const toggle = async (d) => {
    setBusy(d.code);
    try {
      const res = await api.patch(districtPath(d.code), { active: !d.active });
      replace(res.data);
      announce(t(res.data.active ? 'districts.activated' : 'districts.deactivated', { name: d.name }));
    } catch (e) {
      announce(`${d.name}: ${problemText(e)}`, 'error');
    } finally {
      setBusy(null);
    }
  };

  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!districts) return html`<${Loading} />`;
  const rows = districts.map((d) => [
    ltr(d.code),
    html`<bdi>${d.name}</bdi>`,
    html`<bdi>${d.division}</bdi>`,
    html`<${Mark} kind=${d.active ? 'good' : 'bad'} label=${d.active ? t('districts.active') : t('districts.inactive')} />`,
    html`<span class="actions row-actions">
      <button type="button" class="link-button" onClick=${() => setEditing(d)} data-testid=${`edit-district-${d.code}`}>
        ${t('districts.edit')}<span class="visually-hidden"> ${d.name}</span>
      </button>
      <button type="button" class="link-button" disabled=${busy === d.code} onClick=${() => toggle(d)} data-testid=${`toggle-district-${d.code}`}>
        ${d.active ? t('districts.deactivate') : t('districts.activate')}<span class="visually-hidden"> ${d.name}</span>
      </button>
    </span>`,
  ]);
  const divisions = [...new Set(districts.map((d) => d.division))].sort();
  return html`<div>
    <${PageTitle} sub=${t('districts.lead')}>${t('districts.title')}</${PageTitle}>
    <${Section} id="districts-list" title=${t('districts.list_title')}>
      <p role="status" data-testid="districts-count">${t('districts.count', { n: districts.length, active: districts.filter((d) => d.active).length })}</p>
      <${Table} caption=${t('districts.list_title')}
        head=${[t('districts.code'), t('districts.name'), t('districts.division'), t('districts.state'), t('districts.actions')]}
        rows=${rows} empty=${t('districts.none')} />
    </${Section}>
    <datalist id="division-list">${divisions.map((v) => html`<option value=${v} />`)}</datalist>
    <${AddDistrict} onAdded=${replace} />
    <${EditDistrict} district=${editing} onClose=${() => setEditing(null)} onSaved=${(d) => {
      replace(d);
      setEditing(null);
    }} />
  </div>`;
}

function AddDistrict({ onAdded }) {
  const empty = { code: '', name: '', division: '' };
  const f = useForm(empty);
  const [name, division] = nameFields('new-district');
  const fields = [
    { name: 'code', label: t('districts.code'), hint: t('districts.code_hint'), required: true, dir: 'ltr', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'new-district-code' },
    name,
    { ...division, hint: t('districts.division_hint') },
  ];
  const submit = (e) => {
    e.preventDefault();
    const body = { code: f.form.code.trim().toLowerCase(), name: f.form.name.trim(), division: f.form.division.trim() };
    const problems = checkNames('district', body);
    if (!CODE.test(body.code)) problems.unshift({ path: 'district.code', message: t('districts.code_rule') });
    f.setErrors(problems);
    if (problems.length) return;
    f.run(
      async () => {
        const res = await api.post('/api/v1/districts', body);
        onAdded(res.data);
        f.setForm(empty);
        announce(t('districts.added', { name: res.data.name }));
      },
      (err) => (err.status === 409 ? [{ path: 'district.code', message: t('roles.code.district_exists') }] : formErrors(err, 'district.code', 'district')),
    );
  };
  return html`<${Section} id="district-add" title=${t('districts.add_title')}>
    <${Form} f=${f} prefix="district" fields=${fields} onSubmit=${submit} class="narrow">
      <button class="button" type="submit" disabled=${f.busy} data-testid="add-district">${t('districts.add')}</button>
    </${Form}>
  </${Section}>`;
}

function EditDistrict({ district, onClose, onSaved }) {
  const f = useForm(null);
  const code = district?.code;
  useEffect(() => {
    f.setForm(district ? { name: district.name, division: district.division, active: String(district.active) } : null);
    f.setErrors([]);
  }, [code]);
  const fields = [
    ...nameFields('edit-district'),
    { name: 'active', kind: 'select', label: t('districts.state'), hint: t('districts.active_hint'), 'data-testid': 'edit-district-active',
      options: [['true', t('districts.active')], ['false', t('districts.inactive')]] },
  ];
  const submit = (e) => {
    e.preventDefault();
    const now = { name: f.form.name.trim(), division: f.form.division.trim(), active: f.form.active === 'true' };
    const problems = checkNames('edit', now);
    f.setErrors(problems);
    if (problems.length) return;
    const patch = Object.fromEntries(Object.entries(now).filter(([k, v]) => v !== district[k]));
    if (!Object.keys(patch).length) {
      onClose();
      announce(t('districts.unchanged'));
      return;
    }
    f.run(
      async () => {
        const res = await api.patch(districtPath(code), patch);
        onSaved(res.data);
        announce(t('districts.saved', { name: res.data.name }));
      },
      (err) => formErrors(err, 'edit.name', 'edit'),
    );
  };
  return html`<${Dialog} id="district-edit" open=${!!district} title=${t('districts.edit_title', { code: code || '' })} onClose=${onClose}>
    ${f.form
      ? html`<${Form} f=${f} prefix="edit" fields=${fields} onSubmit=${submit}>
          <button class="button" type="submit" disabled=${f.busy} data-testid="save-district">${t('districts.save')}</button>
          <button class="button secondary" type="button" onClick=${onClose} data-testid="cancel-district">${t('common.cancel')}</button>
        </${Form}>`
      : null}
  </${Dialog}>`;
}
