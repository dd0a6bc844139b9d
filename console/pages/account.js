// One's own account (`#/account`): who one is, and a password change. After the change every
// token stops working, so the console signs out and asks for the new password.
//
// The current password is checked by signing in with it first: the change endpoint answers a
// wrong current password with 401, which the API module would take for an expired session
// (and show the re-login dialog).

import * as api from '../api.js';
import { t } from '../i18n.js';
import { Form, Section, Summary, districtName, formErrors, reference, roleLabel, schemeName, useForm } from '../lib/listing.js';
import { session } from '../lib/session.js';
import { PageTitle, announce, html, useLoad } from '../lib/ui.js';

export function AccountPage() {
  const me = session();
  const [ref] = useLoad(reference, []);
  const empty = { current: '', new: '', again: '' };
  const f = useForm(empty);
  const { form } = f;
  const password = (name, label, autocomplete, testid, hint) => ({ name, kind: 'password', label, hint, required: true, autocomplete, 'data-testid': testid });
  const fields = [
    password('current', t('account.current'), 'current-password', 'current-password'),
    password('new', t('account.new'), 'new-password', 'new-password', t('account.new_hint')),
    password('again', t('account.again'), 'new-password', 'new-password-again'),
  ];

  /** The first complaint about the new password, if any (the server stays the judge). */
  const weakness = () => {
    if (form.new.length < 12) return t('roles.code.weak_password');
    if (me?.username && form.new.toLowerCase().includes(me.username.toLowerCase())) return t('account.has_name');
    if (form.new === form.current) return t('account.same');
    return null;
  };
  const submit = (e) => {
    e.preventDefault();
    const weak = weakness();
    const problems = [
      !form.current && { path: 'account.current', message: t('account.current_missing') },
      weak && { path: 'account.new', message: weak },
      form.again !== form.new && { path: 'account.again', message: t('account.mismatch') },
    ].filter(Boolean);
    f.setErrors(problems);
    if (problems.length) return;
    f.run(
      async () => {
        try {
          await api.login(me.username, form.current);
        } catch (loginError) {
          if (loginError.status !== 401) throw loginError;
          f.setErrors([{ path: 'account.current', message: t('account.current_wrong') }]);
          return;
        }
        await api.post('/api/v1/auth/password', { current_password: form.current, new_password: form.new });
        f.setForm(empty);
        announce(t('account.changed'));
        // Every token is revoked now: sign out the way the shell does (its sign-out control
        // also forgets the session and drafts); without the shell, at least drop the token.
        const shellLogout = document.querySelector('[data-testid="logout"]');
        if (shellLogout) shellLogout.click();
        else {
          api.logout();
          location.hash = '#/';
        }
      },
      (err) => formErrors(err, 'account.current', (path) => (path === 'current_password' ? 'account.current' : 'account.new')),
    );
  };

  const schemeAdmin = me?.role === 'scheme_admin';
  const assigned = schemeAdmin ? (me.schemes || []).map((s) => schemeName(ref, s)) : (me?.districts || []).map((d) => districtName(ref, d));
  return html`<div class="narrow">
    <${PageTitle}>${t('account.title')}</${PageTitle}>
    <${Summary} testid="account-summary" items=${[
      [t('account.username'), html`<bdi dir="ltr">${me?.username}</bdi>`],
      [t('account.role'), roleLabel(me?.role)],
      ...(assigned.length
        ? [[schemeAdmin ? t('account.schemes') : t('account.districts'), html`<ul class="plain">${assigned.map((a) => html`<li><bdi>${a}</bdi></li>`)}</ul>`]]
        : []),
    ]} />
    <${Section} id="pw" title=${t('account.password_title')}>
      <p>${t('account.password_lead')}</p>
      <${Form} f=${f} prefix="account" fields=${fields} onSubmit=${submit}>
        <button class="button" type="submit" disabled=${f.busy} data-testid="change-password">${t('account.submit')}</button>
      </${Form}>
    </${Section}>
  </div>`;
}
