// The administrator's districts (`#/admin/districts`): the list, a new district, renaming or
// moving one to another division, and (de)activating it (an inactive district takes no new
// households or assignments; what exists stays).

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { Dialog, ErrorSummary, Field, LoadError, Loading, PageTitle, Table, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';
import { Mark, forgetDistricts, problemErrors } from './schemes.js';

const CODE = /^[a-z][a-z0-9-]{1,39}$/;

function labelsOf(prefix) {
  return {
    [`${prefix}.code`]: t('districts.code'),
    [`${prefix}.name`]: t('districts.name'),
    [`${prefix}.division`]: t('districts.division'),
    [`${prefix}.active`]: t('districts.state'),
  };
}

/** The server's 422 on a district form, onto its inputs. */
function mapped(err, prefix) {
  const labels = labelsOf(prefix);
  return problemErrors(err).map((x) => ({ ...x, path: `${prefix}.${x.path}`, label: labels[`${prefix}.${x.path}`] || '' }));
}

export function DistrictsPage() {
  const [list, error, reload] = useLoad(() => api.get('/api/v1/districts'), []);
  const [items, setItems] = useState(null);
  const [editing, setEditing] = useState(null);
  const [busy, setBusy] = useState(null);
  const districts = items || (Array.isArray(list) ? list : list?.items) || null;
  const divisions = [...new Set((districts || []).map((d) => d.division))].sort();

  const replace = (d) => {
    setItems((districts || []).some((x) => x.code === d.code) ? districts.map((x) => (x.code === d.code ? d : x)) : [...districts, d].sort((a, b) => a.code.localeCompare(b.code)));
    forgetDistricts();
  };

  const toggle = async (d) => {
    setBusy(d.code);
    try {
      const res = await api.patch(`/api/v1/districts/${encodeURIComponent(d.code)}`, { active: !d.active });
      replace(res.data);
      announce(res.data.active ? t('districts.activated', { name: d.name }) : t('districts.deactivated', { name: d.name }));
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
    d.active ? html`<${Mark} kind="good" label=${t('districts.active')} />` : html`<${Mark} kind="bad" label=${t('districts.inactive')} />`,
    html`<span class="actions row-actions">
      <button type="button" class="link-button" onClick=${() => setEditing(d)} data-testid=${`edit-district-${d.code}`}>
        ${t('districts.edit')}<span class="visually-hidden"> ${d.name}</span>
      </button>
      <button type="button" class="link-button" disabled=${busy === d.code} onClick=${() => toggle(d)} data-testid=${`toggle-district-${d.code}`}>
        ${d.active ? t('districts.deactivate') : t('districts.activate')}<span class="visually-hidden"> ${d.name}</span>
      </button>
    </span>`,
  ]);
  const active = districts.filter((d) => d.active).length;
  return html`<div>
    <${PageTitle} sub=${t('districts.lead')}>${t('districts.title')}</${PageTitle}>
    <section aria-labelledby="districts-list-title">
      <h2 id="districts-list-title">${t('districts.list_title')}</h2>
      <p role="status" data-testid="districts-count">${t('districts.count', { n: districts.length, active })}</p>
      <${Table} caption=${t('districts.list_title')}
        head=${[t('districts.code'), t('districts.name'), t('districts.division'), t('districts.state'), t('districts.actions')]}
        rows=${rows} empty=${t('districts.none')} />
    </section>
    <datalist id="division-list">${divisions.map((v) => html`<option value=${v} />`)}</datalist>
    <${AddDistrict} onAdded=${replace} />
    <${EditDistrict} district=${editing} onClose=${() => setEditing(null)} onSaved=${(d) => {
      replace(d);
      setEditing(null);
    }} />
  </div>`;
}

function AddDistrict({ onAdded }) {
  const [form, setForm] = useState({ code: '', name: '', division: '' });
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  const labels = labelsOf('district');
  const err = (p) => errors.find((e) => e.path === p)?.message;
  const submit = async (e) => {
    e.preventDefault();
    const body = { code: form.code.trim().toLowerCase(), name: form.name.trim(), division: form.division.trim() };
    const problems = [];
    if (!CODE.test(body.code)) problems.push({ path: 'district.code', message: t('districts.code_rule') });
    if (!body.name) problems.push({ path: 'district.name', message: t('districts.name_missing') });
    if (!body.division) problems.push({ path: 'district.division', message: t('districts.division_missing') });
    setErrors(problems.map((p) => ({ ...p, label: labels[p.path] })));
    if (problems.length) return;
    setBusy(true);
    try {
      const res = await api.post('/api/v1/districts', body);
      onAdded(res.data);
      setForm({ code: '', name: '', division: '' });
      announce(t('districts.added', { name: res.data.name }));
    } catch (err2) {
      if (err2.status === 409) setErrors([{ path: 'district.code', label: labels['district.code'], message: t('roles.code.district_exists') }]);
      else if (err2.status === 422) setErrors(mapped(err2, 'district'));
      else setErrors([{ path: 'district.code', label: '', message: problemText(err2) }]);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="district-add-title">
    <h2 id="district-add-title">${t('districts.add_title')}</h2>
    <form onSubmit=${submit} novalidate class="narrow">
      <${ErrorSummary} errors=${errors} />
      <${Field} path="district.code" label=${labels['district.code']} hint=${t('districts.code_hint')} value=${form.code}
        onInput=${set('code')} error=${err('district.code')} required dir="ltr" autocomplete="off" autocapitalize="none"
        spellcheck="false" data-testid="new-district-code" />
      <${Field} path="district.name" label=${labels['district.name']} value=${form.name} onInput=${set('name')}
        error=${err('district.name')} required dir="auto" autocomplete="off" data-testid="new-district-name" />
      <${Field} path="district.division" label=${labels['district.division']} hint=${t('districts.division_hint')} value=${form.division}
        onInput=${set('division')} error=${err('district.division')} required dir="auto" list="division-list" autocomplete="off"
        data-testid="new-district-division" />
      <button class="button" type="submit" disabled=${busy} data-testid="add-district">${t('districts.add')}</button>
    </form>
  </section>`;
}

function EditDistrict({ district, onClose, onSaved }) {
  const [form, setForm] = useState(null);
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const code = district?.code;
  useEffect(() => {
    setForm(district ? { code, name: district.name, division: district.division, active: district.active ? 'true' : 'false' } : null);
    setErrors([]);
  }, [code]);
  const labels = labelsOf('edit');
  const err = (p) => errors.find((e) => e.path === p)?.message;
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  const submit = async (e) => {
    e.preventDefault();
    const patch = {};
    if (form.name.trim() !== district.name) patch.name = form.name.trim();
    if (form.division.trim() !== district.division) patch.division = form.division.trim();
    if ((form.active === 'true') !== district.active) patch.active = form.active === 'true';
    const problems = [];
    if (!form.name.trim()) problems.push({ path: 'edit.name', message: t('districts.name_missing') });
    if (!form.division.trim()) problems.push({ path: 'edit.division', message: t('districts.division_missing') });
    setErrors(problems.map((p) => ({ ...p, label: labels[p.path] })));
    if (problems.length) return;
    if (!Object.keys(patch).length) {
      onClose();
      announce(t('districts.unchanged'));
      return;
    }
    setBusy(true);
    try {
      const res = await api.patch(`/api/v1/districts/${encodeURIComponent(code)}`, patch);
      setForm(null);
      onSaved(res.data);
      announce(t('districts.saved', { name: res.data.name }));
    } catch (err2) {
      if (err2.status === 422) setErrors(mapped(err2, 'edit'));
      else setErrors([{ path: 'edit.name', label: '', message: problemText(err2) }]);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} id="district-edit" open=${!!district} title=${t('districts.edit_title', { code: code || '' })}
    onClose=${() => {
      setForm(null);
      onClose();
    }}>
    ${form
      ? html`<form onSubmit=${submit} novalidate>
          <${ErrorSummary} errors=${errors} />
          <${Field} path="edit.name" label=${labels['edit.name']} value=${form.name} onInput=${set('name')} error=${err('edit.name')}
            required dir="auto" autocomplete="off" data-testid="edit-district-name" />
          <${Field} path="edit.division" label=${labels['edit.division']} value=${form.division} onInput=${set('division')}
            error=${err('edit.division')} required dir="auto" list="division-list" autocomplete="off" data-testid="edit-district-division" />
          <${Field} path="edit.active" kind="select" label=${labels['edit.active']} hint=${t('districts.active_hint')} value=${form.active}
            onInput=${set('active')} error=${err('edit.active')} data-testid="edit-district-active"
            options=${[['true', t('districts.active')], ['false', t('districts.inactive')]]} />
          <button class="button" type="submit" disabled=${busy} data-testid="save-district">${t('districts.save')}</button>
          <button class="button secondary" type="button" onClick=${() => {
            setForm(null);
            onClose();
          }} data-testid="cancel-district">${t('common.cancel')}</button>
        </form>`
      : null}
  </${Dialog}>`;
}
