// One's own account (`#/account`): who one is, and a password change. After the change every
// token stops working, so the console signs out and asks for the new password.
//
// The current password is checked by signing in with it first: the change endpoint answers a
// wrong current password with 401, which the API module would take for an expired session
// (and show the re-login dialog).

import * as api from '../api.js';
import { t } from '../i18n.js';
import { session } from '../lib/session.js';
import { ErrorSummary, Field, PageTitle, announce, html, problemText, useLoad, useState } from '../lib/ui.js';
import { districtName, problemErrors, reference, roleLabel, schemeName } from './schemes.js';

export function AccountPage() {
  const me = session();
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const [form, setForm] = useState({ current: '', next: '', again: '' });
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v ?? '' }));
  const labels = {
    'account.current': t('account.current'),
    'account.new': t('account.new'),
    'account.again': t('account.again'),
  };
  const err = (p) => errors.find((e) => e.path === p)?.message;

  const submit = async (e) => {
    e.preventDefault();
    const problems = [];
    if (!form.current) problems.push({ path: 'account.current', message: t('account.current_missing') });
    if (form.next.length < 12) problems.push({ path: 'account.new', message: t('roles.code.weak_password') });
    else if (me?.username && form.next.toLowerCase().includes(me.username.toLowerCase()))
      problems.push({ path: 'account.new', message: t('account.has_name') });
    else if (form.next === form.current) problems.push({ path: 'account.new', message: t('account.same') });
    if (form.again !== form.next) problems.push({ path: 'account.again', message: t('account.mismatch') });
    setErrors(problems.map((p) => ({ ...p, label: labels[p.path] })));
    if (problems.length) return;
    setBusy(true);
    try {
      try {
        await api.login(me.username, form.current);
      } catch (loginError) {
        if (loginError.status === 401) {
          setErrors([{ path: 'account.current', label: labels['account.current'], message: t('account.current_wrong') }]);
          return;
        }
        throw loginError;
      }
      await api.post('/api/v1/auth/password', { current_password: form.current, new_password: form.next });
      setForm({ current: '', next: '', again: '' });
      announce(t('account.changed'));
      // Every token is revoked now: sign out the way the shell does (its sign-out control
      // also forgets the session and drafts); without the shell, at least drop the token.
      const shellLogout = document.querySelector('[data-testid="logout"]');
      if (shellLogout) shellLogout.click();
      else {
        api.logout();
        location.hash = '#/';
      }
    } catch (err2) {
      if (err2.status === 422) {
        setErrors(
          problemErrors(err2).map((x) => {
            const path = x.path === 'current_password' ? 'account.current' : 'account.new';
            return { ...x, path, label: labels[path] };
          }),
        );
      } else {
        setErrors([{ path: 'account.current', label: '', message: problemText(err2) }]);
      }
    } finally {
      setBusy(false);
    }
  };

  const assigned =
    me?.role === 'scheme_admin'
      ? (me.schemes || []).map((s) => schemeName(ref, s))
      : (me?.districts || []).map((d) => districtName(ref, d));
  return html`<div class="narrow">
    <${PageTitle}>${t('account.title')}</${PageTitle}>
    <dl class="summary-list" data-testid="account-summary">
      <dt>${t('account.username')}</dt><dd><bdi dir="ltr">${me?.username}</bdi></dd>
      <dt>${t('account.role')}</dt><dd>${roleLabel(me?.role)}</dd>
      ${assigned.length
        ? html`<dt>${me.role === 'scheme_admin' ? t('account.schemes') : t('account.districts')}</dt>
            <dd><ul class="plain">${assigned.map((a) => html`<li><bdi>${a}</bdi></li>`)}</ul></dd>`
        : null}
    </dl>
    <section aria-labelledby="pw-title">
      <h2 id="pw-title">${t('account.password_title')}</h2>
      <p>${t('account.password_lead')}</p>
      <form onSubmit=${submit} novalidate>
        <${ErrorSummary} errors=${errors} />
        <${Field} path="account.current" kind="password" label=${labels['account.current']} value=${form.current}
          onInput=${set('current')} error=${err('account.current')} required autocomplete="current-password" data-testid="current-password" />
        <${Field} path="account.new" kind="password" label=${labels['account.new']} hint=${t('account.new_hint')} value=${form.next}
          onInput=${set('next')} error=${err('account.new')} required autocomplete="new-password" data-testid="new-password" />
        <${Field} path="account.again" kind="password" label=${labels['account.again']} value=${form.again}
          onInput=${set('again')} error=${err('account.again')} required autocomplete="new-password" data-testid="new-password-again" />
        <button class="button" type="submit" disabled=${busy} data-testid="change-password">${t('account.submit')}</button>
      </form>
    </section>
  </div>`;
}
