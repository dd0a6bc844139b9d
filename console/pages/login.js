// Sign in. While no account exists, says how to create the first administrator.

import * as api from '../api.js';
import { t } from '../i18n.js';
import { Form, useForm } from '../lib/listing.js';
import { PageTitle, html, problemText, useEffect, useState } from '../lib/ui.js';

export function LoginPage({ onSignedIn }) {
  const f = useForm({ username: '', password: '' });
  const [message, setMessage] = useState(null);
  const [firstRun, setFirstRun] = useState(false);

  useEffect(() => {
    api.get('/api/v1/auth/setup').then(
      (s) => setFirstRun(!!s.first_admin_needed),
      () => setFirstRun(false),
    );
  }, []);

  const submit = (e) => {
    e.preventDefault();
    const { username, password } = f.form;
    const missing = [
      !username.trim() && { path: 'login.username', message: t('login.username_missing') },
      !password && { path: 'login.password', message: t('login.password_missing') },
    ].filter(Boolean);
    f.setErrors(missing);
    setMessage(null);
    if (missing.length) return;
    f.run(
      async () => {
        await api.login(username.trim(), password);
        f.setForm({ username, password: '' });
        await onSignedIn();
      },
      (err) => {
        setMessage(err.status === 401 ? t('login.wrong') : problemText(err));
        return [];
      },
    );
  };
  const fields = [
    { name: 'username', label: t('login.username'), autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', dir: 'ltr', required: true },
    { name: 'password', kind: 'password', label: t('login.password'), autocomplete: 'current-password', required: true },
  ];
  return html`<div class="narrow">
    <${PageTitle}>${t('login.title')}</${PageTitle}>
    ${firstRun
      ? html`<div class="notice notice-info" data-testid="first-run">
          <h2>${t('login.first_title')}</h2>
          <p>${t('login.first_body')}</p>
          <pre dir="ltr" lang="en"><code>printf '%s\\n' 'choose a long password' | sahulat user add --username admin --role admin</code></pre>
          <p>${t('login.first_then')}</p>
        </div>`
      : null}
    ${message ? html`<div class="notice notice-error" role="alert" data-testid="login-error">${message}</div>` : null}
    <${Form} f=${f} prefix="login" fields=${fields} onSubmit=${submit}>
      <button class="button" type="submit" disabled=${f.busy} data-testid="login-submit">${t('login.submit')}</button>
    </${Form}>
  </div>`;
}
