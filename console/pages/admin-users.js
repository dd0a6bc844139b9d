// The administrator's accounts: the list (paged) and a new account (`#/admin/users`); one
// account (`#/admin/users/{id}`): its districts or schemes, enabling and disabling (PATCH
// with If-Match = the version read), and setting its password.

import * as api from '../api.js';
import { ltr, showTime, t } from '../i18n.js';
import { session } from '../lib/session.js';
import {
  Dialog,
  ErrorSummary,
  Field,
  LoadError,
  Loading,
  PageTitle,
  Table,
  announce,
  html,
  inputId,
  problemText,
  useEffect,
  useLoad,
  useState,
} from '../lib/ui.js';
import { Mark, districtName, problemErrors, reference, roleLabel, schemeName, usePaged } from './schemes.js';

export const ROLES = ['clerk', 'scheme_admin', 'auditor', 'admin'];

/** Which assignments a role holds: clerks need districts, auditors may have some, scheme administrators need schemes. */
export function assignmentOf(role) {
  if (role === 'clerk' || role === 'auditor') return 'districts';
  if (role === 'scheme_admin') return 'schemes';
  return null;
}

/** A group of checkboxes (fieldset + legend) with hint and error; the first box carries the path's id. */
export function CheckGroup({ path, legend, hint, error, options, value, onChange, testid, required }) {
  const id = inputId(path);
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return html`<fieldset class=${`field check-group${error ? ' field-error' : ''}`} aria-describedby=${describedBy}>
    <legend>${legend}${required ? html` <span class="req" aria-hidden="true">*</span>` : null}</legend>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('error.prefix')} </span>${error}</p>` : null}
    <div class="check-grid">
      ${options.map(([val, text], i) => {
        const boxId = i === 0 ? id : `${id}-${val}`;
        return html`<div class="check">
          <input type="checkbox" id=${boxId} name=${path} value=${val} checked=${value.includes(val)}
            aria-invalid=${error ? 'true' : undefined} data-testid=${`${testid}-${val}`}
            onChange=${(e) => onChange(e.target.checked ? [...value.filter((x) => x !== val), val] : value.filter((x) => x !== val))} />
          <label for=${boxId}>${text}</label>
        </div>`;
      })}
    </div>
  </fieldset>`;
}

function districtChoices(ref, keep = []) {
  return (ref?.districts || []).filter((d) => d.active || keep.includes(d.code)).map((d) => [d.code, d.name]);
}
function schemeChoices(ref) {
  return (ref?.schemes || []).map((s) => [s.id, schemeName(ref, s.id)]);
}

/** A short list of an account's districts or schemes. */
function assignmentsText(ref, u) {
  const names = u.role === 'scheme_admin' ? u.schemes.map((s) => schemeName(ref, s)) : u.districts.map((d) => districtName(ref, d));
  if (!names.length) return html`<span class="empty">${u.role === 'auditor' ? t('users.all_districts') : '—'}</span>`;
  const shown = names.slice(0, 3).join('، ');
  return html`<bdi>${shown}</bdi>${names.length > 3 ? html` ${t('users.and_more', { n: names.length - 3 })}` : null}`;
}

const USERNAME = /^[a-z0-9._-]{3,64}$/;

/** Client checks that mirror the server's (the server stays the judge). */
function checkPassword(password, username, path) {
  if (password.length < 12) return { path, message: t('roles.code.weak_password') };
  if (username && password.toLowerCase().includes(username.toLowerCase())) return { path, message: t('users.password_has_name') };
  return null;
}

/* ------------------------------------------------------------------ #/admin/users */

export function UsersPage() {
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const list = usePaged((cursor) => api.get('/api/v1/users', { limit: 50, cursor }), []);
  const rows = (list.items || []).map((u) => [
    html`<a href=${`#/admin/users/${encodeURIComponent(u.id)}`} data-testid=${`user-link-${u.username}`}><bdi dir="ltr">${u.username}</bdi></a>`,
    roleLabel(u.role),
    u.active ? html`<${Mark} kind="good" label=${t('users.active')} />` : html`<${Mark} kind="bad" label=${t('users.disabled')} />`,
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
    <section aria-labelledby="users-list-title">
      <h2 id="users-list-title">${t('users.list_title')}</h2>
      ${list.error ? html`<${LoadError} error=${list.error} retry=${list.reload} />` : null}
      ${!list.items && !list.error ? html`<${Loading} />` : null}
      ${list.items
        ? html`<p role="status" data-testid="users-count">${t('users.count', { n: list.items.length })}${list.next ? ` ${t('users.more_exist')}` : ''}</p>
            <${Table} caption=${t('users.list_title')}
              head=${[t('users.username'), t('users.role'), t('users.state'), t('users.assignments'), t('users.updated')]}
              rows=${rows} empty=${t('users.none')} />
            ${list.moreError ? html`<${LoadError} error=${list.moreError} retry=${list.more} />` : null}
            ${list.next
              ? html`<button type="button" class="button secondary" disabled=${list.busy} onClick=${list.more} data-testid="users-more">${t('common.more')}</button>`
              : null}`
        : null}
    </section>
    <${CreateUser} refData=${ref} />
  </div>`;
}

function CreateUser({ refData }) {
  const [form, setForm] = useState({ username: '', role: '', districts: [], schemes: [], password: '' });
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const [retryKey, setRetryKey] = useState(null);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  const kind = assignmentOf(form.role);
  const labels = {
    'user.username': t('users.username'),
    'user.role': t('users.role'),
    'user.districts': t('users.districts'),
    'user.schemes': t('users.schemes'),
    'user.password': t('users.initial_password'),
  };
  const err = (p) => errors.find((e) => e.path === p)?.message;

  const submit = async (e) => {
    e.preventDefault();
    const username = form.username.trim();
    const problems = [];
    if (!USERNAME.test(username)) problems.push({ path: 'user.username', message: t('users.username_rule') });
    if (!form.role) problems.push({ path: 'user.role', message: t('users.role_missing') });
    if (form.role === 'clerk' && !form.districts.length) problems.push({ path: 'user.districts', message: t('roles.code.required_districts') });
    if (form.role === 'scheme_admin' && !form.schemes.length) problems.push({ path: 'user.schemes', message: t('roles.code.required_schemes') });
    const pw = checkPassword(form.password, username, 'user.password');
    if (pw) problems.push(pw);
    setErrors(problems.map((p) => ({ ...p, label: labels[p.path] })));
    if (problems.length) return;
    const body = {
      username,
      role: form.role,
      password: form.password,
      districts: kind === 'districts' ? form.districts : [],
      schemes: kind === 'schemes' ? form.schemes : [],
    };
    const key = retryKey || api.newKey();
    setBusy(true);
    try {
      const res = await api.post('/api/v1/users', body, { key });
      setRetryKey(null);
      announce(t('users.created', { username }));
      location.hash = `#/admin/users/${encodeURIComponent(res.data.id)}`;
    } catch (err2) {
      if (err2 instanceof api.NetworkError) {
        setRetryKey(key);
        setErrors([{ path: 'user.username', message: t('roles.network_retry') }]);
      } else if (err2.status === 409) {
        setRetryKey(null);
        setErrors([{ path: 'user.username', label: labels['user.username'], message: t('roles.code.username_taken') }]);
      } else if (err2.status === 422) {
        setRetryKey(null);
        const mapped = problemErrors(err2).map((x) => ({ ...x, path: `user.${x.path}` }));
        setErrors(mapped.map((x) => ({ ...x, label: labels[x.path] || '' })));
      } else {
        setRetryKey(null);
        setErrors([{ path: 'user.username', message: problemText(err2) }]);
      }
    } finally {
      setBusy(false);
    }
  };

  return html`<section aria-labelledby="new-user-title" id="new-user">
    <h2 id="new-user-title">${t('users.create_title')}</h2>
    <form onSubmit=${submit} novalidate class="narrow">
      <${ErrorSummary} errors=${errors} />
      <${Field} path="user.username" label=${labels['user.username']} hint=${t('users.username_hint')} value=${form.username}
        onInput=${set('username')} error=${err('user.username')} required dir="ltr" autocomplete="off" autocapitalize="none"
        spellcheck="false" data-testid="new-username" />
      <${Field} path="user.role" kind="select" label=${labels['user.role']} value=${form.role} onInput=${set('role')}
        error=${err('user.role')} required data-testid="new-role"
        options=${[['', t('users.choose_role')], ...ROLES.map((r) => [r, roleLabel(r)])]} />
      ${kind === 'districts'
        ? html`<${CheckGroup} path="user.districts" legend=${labels['user.districts']}
            hint=${form.role === 'clerk' ? t('users.districts_hint_clerk') : t('users.districts_hint_auditor')}
            error=${err('user.districts')} options=${districtChoices(refData)} value=${form.districts}
            onChange=${set('districts')} testid="new-district" required=${form.role === 'clerk'} />`
        : null}
      ${kind === 'schemes'
        ? html`<${CheckGroup} path="user.schemes" legend=${labels['user.schemes']} hint=${t('users.schemes_hint')}
            error=${err('user.schemes')} options=${schemeChoices(refData)} value=${form.schemes}
            onChange=${set('schemes')} testid="new-scheme" required />`
        : null}
      <${Field} path="user.password" kind="password" label=${labels['user.password']} hint=${t('users.password_hint')}
        value=${form.password} onInput=${set('password')} error=${err('user.password')} required autocomplete="new-password"
        data-testid="new-user-password" />
      <button class="button" type="submit" disabled=${busy} data-testid="create-user">
        ${retryKey ? t('common.retry') : t('users.create')}
      </button>
    </form>
  </section>`;
}

/* ------------------------------------------------------------------ #/admin/users/{id} */

export function UserPage({ route }) {
  const id = route.params[0];
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const [user, error, reload] = useLoad(() => api.get(`/api/v1/users/${encodeURIComponent(id)}`), [id]);
  const [current, setCurrent] = useState(null); // the account as last read or saved
  useEffect(() => setCurrent(user), [user]);
  const back = html`<p><a href="#/admin/users">${t('users.back')}</a></p>`;
  if (error) return html`<div>${back}<${LoadError} error=${error} retry=${reload} /></div>`;
  if (!current) return html`<div>${back}<${Loading} /></div>`;
  const u = current;
  const self = session()?.id === u.id;
  return html`<div>
    ${back}
    <${PageTitle} sub=${roleLabel(u.role)}><bdi dir="ltr">${u.username}</bdi></${PageTitle}>
    ${self ? html`<div class="notice">${t('users.is_you')} <a href="#/account">${t('users.own_password')}</a></div>` : null}
    <dl class="summary-list" data-testid="user-summary">
      <dt>${t('users.role')}</dt><dd>${roleLabel(u.role)}</dd>
      <dt>${t('users.state')}</dt>
      <dd data-testid="user-state">${u.active ? html`<${Mark} kind="good" label=${t('users.active')} />` : html`<${Mark} kind="bad" label=${t('users.disabled')} />`}</dd>
      <dt>${t('users.assignments')}</dt><dd>${assignmentsText(ref, u)}</dd>
      <dt>${t('users.created_at')}</dt><dd>${showTime(u.created_at)}</dd>
      <dt>${t('users.updated')}</dt><dd>${showTime(u.updated_at)}</dd>
      <dt>${t('users.version')}</dt><dd data-testid="user-version">${ltr(u.version)}</dd>
    </dl>
    ${assignmentOf(u.role) ? html`<${Assignments} user=${u} refData=${ref} onSaved=${setCurrent} />` : null}
    <${Access} user=${u} self=${self} onSaved=${setCurrent} />
    <${SetPassword} user=${u} />
  </div>`;
}

function Assignments({ user, refData, onSaved }) {
  const kind = assignmentOf(user.role);
  const [value, setValue] = useState(user[kind]);
  const [errors, setErrors] = useState([]);
  const [conflict, setConflict] = useState(null); // the account as someone else saved it
  const [busy, setBusy] = useState(false);
  const path = `assign.${kind}`;
  const legend = kind === 'districts' ? t('users.districts') : t('users.schemes');
  const save = async (e) => {
    e.preventDefault();
    if (user.role === 'clerk' && !value.length) {
      setErrors([{ path, label: legend, message: t('roles.code.required_districts') }]);
      return;
    }
    if (user.role === 'scheme_admin' && !value.length) {
      setErrors([{ path, label: legend, message: t('roles.code.required_schemes') }]);
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      const res = await api.patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { [kind]: value }, user.version);
      setConflict(null);
      onSaved(res.data);
      announce(t('users.assignments_saved', { username: user.username }));
    } catch (err) {
      if (err.status === 412) {
        // Someone changed the account since it was read: show theirs, keep these choices,
        // and let the next Save apply them to the new version.
        const now = await api.get(`/api/v1/users/${encodeURIComponent(user.id)}`).catch(() => null);
        if (now) {
          setConflict(now);
          onSaved(now);
        }
      } else if (err.status === 422) {
        setErrors(problemErrors(err).map((x) => ({ ...x, path, label: legend })));
      } else {
        setErrors([{ path, label: legend, message: problemText(err) }]);
      }
    } finally {
      setBusy(false);
    }
  };
  const options = kind === 'districts' ? districtChoices(refData, value) : schemeChoices(refData);
  return html`<section aria-labelledby="assign-title">
    <h2 id="assign-title">${legend}</h2>
    ${conflict
      ? html`<div class="notice notice-warn" role="alert" data-testid="user-conflict">
          <p>${t('users.conflict')}</p>
          <p>${t('users.conflict_now')} ${assignmentsText(refData, conflict)}</p>
        </div>`
      : null}
    <form onSubmit=${save} novalidate>
      <${ErrorSummary} errors=${errors} />
      <${CheckGroup} path=${path} legend=${legend}
        hint=${kind === 'schemes' ? t('users.schemes_hint') : user.role === 'clerk' ? t('users.districts_hint_clerk') : t('users.districts_hint_auditor')}
        error=${errors[0]?.message} options=${options} value=${value} onChange=${setValue} testid=${kind === 'districts' ? 'assign-district' : 'assign-scheme'} />
      <button class="button" type="submit" disabled=${busy} data-testid="save-assignments">${t('users.save_assignments')}</button>
    </form>
  </section>`;
}

function Access({ user, self, onSaved }) {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const setActive = async (active) => {
    setBusy(true);
    setMessage(null);
    try {
      const res = await api.patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { active }, user.version);
      onSaved(res.data);
      setConfirming(false);
      announce(active ? t('users.enabled_done', { username: user.username }) : t('users.disabled_done', { username: user.username }));
    } catch (err) {
      setConfirming(false);
      if (err.status === 412) {
        const now = await api.get(`/api/v1/users/${encodeURIComponent(user.id)}`).catch(() => null);
        if (now) onSaved(now);
        setMessage(t('users.conflict_access'));
      } else if (err.status === 409) {
        setMessage(has409(err));
      } else {
        setMessage(problemText(err));
      }
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="access-title">
    <h2 id="access-title">${t('users.access_title')}</h2>
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
  </section>`;
}

function has409(err) {
  const key = `roles.code.${err.code}`;
  const text = t(key);
  return text === key ? problemText(err) : text;
}

function SetPassword({ user }) {
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const label = t('users.new_password');
  const submit = async (e) => {
    e.preventDefault();
    setDone(false);
    const pw = checkPassword(password, user.username, 'reset.new_password');
    setErrors(pw ? [{ ...pw, label }] : []);
    if (pw) return;
    setBusy(true);
    try {
      await api.post(`/api/v1/users/${encodeURIComponent(user.id)}/password`, { new_password: password });
      setPassword('');
      setDone(true);
      announce(t('users.password_set', { username: user.username }));
    } catch (err) {
      if (err.status === 422) setErrors(problemErrors(err).map((x) => ({ ...x, path: 'reset.new_password', label })));
      else setErrors([{ path: 'reset.new_password', label, message: problemText(err) }]);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="password-title">
    <h2 id="password-title">${t('users.password_title')}</h2>
    <p>${t('users.password_lead')}</p>
    ${done ? html`<div class="notice notice-ok" role="status" data-testid="password-set">${t('users.password_set', { username: user.username })}</div>` : null}
    <form onSubmit=${submit} novalidate class="narrow">
      <${ErrorSummary} errors=${errors} />
      <${Field} path="reset.new_password" kind="password" label=${label} hint=${t('users.password_hint')} value=${password}
        onInput=${setPassword} error=${errors[0]?.message} required autocomplete="new-password" data-testid="user-new-password" />
      <button class="button secondary" type="submit" disabled=${busy} data-testid="set-password">${t('users.set_password')}</button>
    </form>
  </section>`;
}
