// The administrator's accounts: the list (paged) and a new account (`#/admin/users`); one
// account (`#/admin/users/{id}`): its districts or schemes, enabling and disabling (PATCH
// with If-Match = the version read), and setting its password.

import * as api from '../api.js';
import { ltr, showTime, t, tOr } from '../i18n.js';
import { Form, Section, Summary, districtName, formErrors, reference, roleLabel, schemeName, useForm } from '../lib/listing.js';
import { PagedTable, usePaged } from '../lib/paged.js';
import { session } from '../lib/session.js';
import { Dialog, LoadError, Loading, Mark, PageTitle, announce, html, inputId, problemText, useEffect, useLoad, useState } from '../lib/ui.js';

const ROLES = ['clerk', 'scheme_admin', 'auditor', 'admin'];
const USERNAME = /^[a-z0-9._-]{3,64}$/;
const userPath = (id) => `/api/v1/users/${encodeURIComponent(id)}`;

/** Which assignments a role holds: clerks need districts, auditors may have some, scheme administrators need schemes. */
function assignmentOf(role) {
  if (role === 'clerk' || role === 'auditor') return 'districts';
  if (role === 'scheme_admin') return 'schemes';
  return null;
}

/** The missing-assignment error of a role that needs some (null when fine). */
function assignmentMissing(role, chosen) {
  if (chosen.length || !['clerk', 'scheme_admin'].includes(role)) return null;
  return t(role === 'clerk' ? 'roles.code.required_districts' : 'roles.code.required_schemes');
}

const stateMark = (active) => html`<${Mark} kind=${active ? 'good' : 'bad'} label=${active ? t('users.active') : t('users.disabled')} />`;

/** A short list of an account's districts or schemes. */
function assignmentsText(ref, u) {
  const names = u.role === 'scheme_admin' ? u.schemes.map((s) => schemeName(ref, s)) : u.districts.map((d) => districtName(ref, d));
  if (!names.length) return html`<span class="empty">${u.role === 'auditor' ? t('users.all_districts') : '—'}</span>`;
  return html`<bdi>${names.slice(0, 3).join('، ')}</bdi>${names.length > 3 ? html` ${t('users.and_more', { n: names.length - 3 })}` : null}`;
}

/** Client checks that mirror the server's (the server stays the judge). */
function checkPassword(password, username, path) {
  if (password.length < 12) return { path, message: t('roles.code.weak_password') };
  if (username && password.toLowerCase().includes(username.toLowerCase())) return { path, message: t('users.password_has_name') };
  return null;
}

/** A form's group of checkboxes (fieldset + legend) with hint and error; the first box carries the path's id. */
function CheckGroup({ path, label, hint, error, options, value, onInput, testid, required }) {
  const id = inputId(path);
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return html`<fieldset class=${`field check-group${error ? ' field-error' : ''}`} aria-describedby=${describedBy}>
    <legend>${label}${required ? html` <span class="req" aria-hidden="true">*</span>` : null}</legend>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('error.prefix')} </span>${error}</p>` : null}
    <div class="check-grid">
      ${options.map(([val, text], i) => {
        const boxId = i === 0 ? id : `${id}-${val}`;
        const others = value.filter((x) => x !== val);
        return html`<div class="check">
          <input type="checkbox" id=${boxId} name=${path} value=${val} checked=${value.includes(val)}
            aria-invalid=${error ? 'true' : undefined} data-testid=${`${testid}-${val}`}
            onChange=${(e) => onInput(e.target.checked ? [...others, val] : others)} />
          <label for=${boxId}>${text}</label>
        </div>`;
      })}
    </div>
  </fieldset>`;
}

/* ------------------------------------------------------------------ #/admin/users */

export function UsersPage() {
  const [ref] = useLoad(reference, []);
  const list = usePaged((cursor) => api.get('/api/v1/users', { limit: 50, cursor }), []);
  const rows = (list.items || []).map((u) => [
    html`<a href=${`#/admin/users/${encodeURIComponent(u.id)}`} data-testid=${`user-link-${u.username}`}><bdi dir="ltr">${u.username}</bdi></a>`,
    roleLabel(u.role),
    stateMark(u.active),
    assignmentsText(ref, u),
    showTime(u.updated_at),
  ]);
  return html`<div>
    <${PageTitle} sub=${t('users.lead')}>${t('users.title')}</${PageTitle}>
    <p><a href="#new-user" class="button secondary" data-testid="goto-create-user"
      onClick=${(e) => {
        e.preventDefault();
        document.getElementById('f-user-username')?.focus();
      }}>${t('users.create_title')}</a></p>
    <${Section} id="users-list" title=${t('users.list_title')}>
      <${PagedTable} list=${list} name="users" count=${t('users.count', { n: rows.length })} caption=${t('users.list_title')}
        head=${[t('users.username'), t('users.role'), t('users.state'), t('users.assignments'), t('users.updated')]}
        rows=${rows} empty=${t('users.none')} />
    </${Section}>
    <${CreateUser} refData=${ref} />
  </div>`;
}

/**
 * The checkboxes of a role's assignments (none for an administrator): every scheme, or the
 * active districts and those in `keep` (already held).
 */
function assignmentField(role, ref, testid, keep = []) {
  if (role === 'scheme_admin') {
    const options = (ref?.schemes || []).map((s) => [s.id, schemeName(ref, s.id)]);
    return [{ name: 'schemes', as: CheckGroup, label: t('users.schemes'), hint: t('users.schemes_hint'), options, testid: `${testid}-scheme`, required: true }];
  }
  if (!assignmentOf(role)) return [];
  const options = (ref?.districts || []).filter((d) => d.active || keep.includes(d.code)).map((d) => [d.code, d.name]);
  const hint = role === 'clerk' ? t('users.districts_hint_clerk') : t('users.districts_hint_auditor');
  return [{ name: 'districts', as: CheckGroup, label: t('users.districts'), hint, options, testid: `${testid}-district`, required: role === 'clerk' }];
}

function CreateUser({ refData }) {
  const f = useForm({ username: '', role: '', districts: [], schemes: [], password: '' });
  const [retryKey, setRetryKey] = useState(null); // the Idempotency-Key of a try lost on the network
  const { form } = f;
  const kind = assignmentOf(form.role);
  const fields = [
    { name: 'username', label: t('users.username'), hint: t('users.username_hint'), required: true, dir: 'ltr', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'new-username' },
    { name: 'role', kind: 'select', label: t('users.role'), required: true, 'data-testid': 'new-role', options: [['', t('users.choose_role')], ...ROLES.map((r) => [r, roleLabel(r)])] },
    ...assignmentField(form.role, refData, 'new'),
    { name: 'password', kind: 'password', label: t('users.initial_password'), hint: t('users.password_hint'), required: true, autocomplete: 'new-password', 'data-testid': 'new-user-password' },
  ];

  const submit = (e) => {
    e.preventDefault();
    const username = form.username.trim();
    const missing = kind && assignmentMissing(form.role, form[kind]);
    const problems = [
      !USERNAME.test(username) && { path: 'user.username', message: t('users.username_rule') },
      !form.role && { path: 'user.role', message: t('users.role_missing') },
      missing && { path: `user.${kind}`, message: missing },
      checkPassword(form.password, username, 'user.password'),
    ].filter(Boolean);
    f.setErrors(problems);
    if (problems.length) return;
    const body = { username, role: form.role, password: form.password, districts: [], schemes: [] };
    if (kind) body[kind] = form[kind];
    const key = retryKey || api.newKey();
    f.run(
      async () => {
        const res = await api.post('/api/v1/users', body, { key });
        setRetryKey(null);
        announce(t('users.created', { username }));
        location.hash = `#/admin/users/${encodeURIComponent(res.data.id)}`;
      },
      (err) => {
        const lost = err instanceof api.NetworkError;
        setRetryKey(lost ? key : null);
        if (lost) return [{ path: 'user.username', label: '', message: t('roles.network_retry') }];
        if (err.status === 409) return [{ path: 'user.username', message: t('roles.code.username_taken') }];
        return formErrors(err, 'user.username', 'user');
      },
    );
  };

  return html`<${Section} id="new-user" title=${t('users.create_title')}>
    <${Form} f=${f} prefix="user" fields=${fields} onSubmit=${submit} class="narrow">
      <button class="button" type="submit" disabled=${f.busy} data-testid="create-user">${retryKey ? t('common.retry') : t('users.create')}</button>
    </${Form}>
  </${Section}>`;
}

/* ------------------------------------------------------------------ #/admin/users/{id} */

export function UserPage({ route }) {
  const id = route.params[0];
  const [ref] = useLoad(reference, []);
  const [user, error, reload] = useLoad(() => api.get(userPath(id)), [id]);
  const [u, setCurrent] = useState(null); // the account as last read or saved
  useEffect(() => setCurrent(user), [user]);
  const back = html`<p><a href="#/admin/users">${t('users.back')}</a></p>`;
  if (error) return html`<div>${back}<${LoadError} error=${error} retry=${reload} /></div>`;
  if (!u) return html`<div>${back}<${Loading} /></div>`;
  const self = session()?.id === u.id;
  return html`<div>
    ${back}
    <${PageTitle} sub=${roleLabel(u.role)}><bdi dir="ltr">${u.username}</bdi></${PageTitle}>
    ${self ? html`<div class="notice">${t('users.is_you')} <a href="#/account">${t('users.own_password')}</a></div>` : null}
    <${Summary} testid="user-summary" items=${[
      [t('users.role'), roleLabel(u.role)],
      [t('users.state'), html`<span data-testid="user-state">${stateMark(u.active)}</span>`],
      [t('users.assignments'), assignmentsText(ref, u)],
      [t('users.created_at'), showTime(u.created_at)],
      [t('users.updated'), showTime(u.updated_at)],
      [t('users.version'), html`<span data-testid="user-version">${ltr(u.version)}</span>`],
    ]} />
    ${assignmentOf(u.role) ? html`<${Assignments} user=${u} refData=${ref} onSaved=${setCurrent} />` : null}
    <${Access} user=${u} self=${self} onSaved=${setCurrent} />
    <${SetPassword} user=${u} />
  </div>`;
}

function Assignments({ user, refData, onSaved }) {
  const kind = assignmentOf(user.role);
  const f = useForm({ [kind]: user[kind] });
  const [conflict, setConflict] = useState(null); // the account as someone else saved it
  const save = (e) => {
    e.preventDefault();
    const missing = assignmentMissing(user.role, f.form[kind]);
    f.setErrors(missing ? [{ path: `assign.${kind}`, message: missing }] : []);
    if (missing) return;
    f.run(
      async () => {
        try {
          const res = await api.patch(userPath(user.id), { [kind]: f.form[kind] }, user.version);
          setConflict(null);
          onSaved(res.data);
          announce(t('users.assignments_saved', { username: user.username }));
        } catch (err) {
          if (err.status !== 412) throw err;
          // Someone changed the account since it was read: show theirs, keep these choices,
          // and let the next Save apply them to the new version.
          const now = await api.get(userPath(user.id)).catch(() => null);
          if (now) {
            setConflict(now);
            onSaved(now);
          }
        }
      },
      (err) => formErrors(err, `assign.${kind}`),
    );
  };
  const fields = assignmentField(user.role, refData, 'assign', f.form[kind]).map((x) => ({ ...x, required: false }));
  return html`<${Section} id="assign" title=${fields[0].label}>
    ${conflict
      ? html`<div class="notice notice-warn" role="alert" data-testid="user-conflict">
          <p>${t('users.conflict')}</p>
          <p>${t('users.conflict_now')} ${assignmentsText(refData, conflict)}</p>
        </div>`
      : null}
    <${Form} f=${f} prefix="assign" fields=${fields} onSubmit=${save}>
      <button class="button" type="submit" disabled=${f.busy} data-testid="save-assignments">${t('users.save_assignments')}</button>
    </${Form}>
  </${Section}>`;
}

function Access({ user, self, onSaved }) {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const setActive = async (active) => {
    setBusy(true);
    setMessage(null);
    try {
      const res = await api.patch(userPath(user.id), { active }, user.version);
      onSaved(res.data);
      announce(t(active ? 'users.enabled_done' : 'users.disabled_done', { username: user.username }));
    } catch (err) {
      if (err.status === 412) {
        const now = await api.get(userPath(user.id)).catch(() => null);
        if (now) onSaved(now);
        setMessage(t('users.conflict_access'));
      } else {
        setMessage((err.status === 409 && tOr(`roles.code.${err.code}`)) || problemText(err));
      }
    } finally {
      setConfirming(false);
      setBusy(false);
    }
  };
  return html`<${Section} id="access" title=${t('users.access_title')}>
    ${message ? html`<div class="notice notice-error" role="alert" data-testid="access-error">${message}</div>` : null}
    ${user.active
      ? html`<p>${t('users.disable_lead')}</p>
          <button type="button" class="button warning" disabled=${busy || self} onClick=${() => setConfirming(true)} data-testid="disable-user">
            ${t('users.disable')}
          </button>
          ${self ? html`<p class="hint">${t('roles.code.cannot_disable_self')}</p>` : null}`
      : html`<p>${t('users.enable_lead')}</p>
          <button type="button" class="button secondary" disabled=${busy} onClick=${() => setActive(true)} data-testid="enable-user">
            ${t('users.enable')}
          </button>`}
    <${Dialog} id="disable-dialog" open=${confirming} title=${t('users.disable_title', { username: user.username })} onClose=${() => setConfirming(false)}>
      <p>${t('users.disable_body')}</p>
      <button type="button" class="button warning" disabled=${busy} onClick=${() => setActive(false)} data-testid="disable-confirm">${t('users.disable')}</button>
      <button type="button" class="button secondary" onClick=${() => setConfirming(false)} data-testid="disable-cancel">${t('common.cancel')}</button>
    </${Dialog}>
  </${Section}>`;
}

function SetPassword({ user }) {
  const f = useForm({ new_password: '' });
  const [done, setDone] = useState(false);
  const fields = [
    { name: 'new_password', kind: 'password', label: t('users.new_password'), hint: t('users.password_hint'), required: true, autocomplete: 'new-password', 'data-testid': 'user-new-password' },
  ];
  const submit = (e) => {
    e.preventDefault();
    setDone(false);
    const weak = checkPassword(f.form.new_password, user.username, 'reset.new_password');
    f.setErrors(weak ? [weak] : []);
    if (weak) return;
    f.run(
      async () => {
        await api.post(`${userPath(user.id)}/password`, { new_password: f.form.new_password });
        f.setForm({ new_password: '' });
        setDone(true);
        announce(t('users.password_set', { username: user.username }));
      },
      (err) => formErrors(err, 'reset.new_password'),
    );
  };
  return html`<${Section} id="password" title=${t('users.password_title')}>
    <p>${t('users.password_lead')}</p>
    ${done ? html`<div class="notice notice-ok" role="status" data-testid="password-set">${t('users.password_set', { username: user.username })}</div>` : null}
    <${Form} f=${f} prefix="reset" fields=${fields} onSubmit=${submit} class="narrow">
      <button class="button secondary" type="submit" disabled=${f.busy} data-testid="set-password">${t('users.set_password')}</button>
    </${Form}>
  </${Section}>`;
}
