// Sign in. While no account exists, says how to create the first administrator.

import * as api from '../api.js';
import { t } from '../i18n.js';
import { ErrorSummary, Field, PageTitle, html, problemText, useEffect, useState } from '../lib/ui.js';

export function LoginPage({ onSignedIn }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState([]);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const [firstRun, setFirstRun] = useState(false);

  useEffect(() => {
    api.get('/api/v1/auth/setup').then(
      (s) => setFirstRun(!!s.first_admin_needed),
      () => setFirstRun(false),
    );
  }, []);

  const submit = async (e) => {
    e.preventDefault();
    const missing = [];
    if (!username.trim()) missing.push({ path: 'login.username', message: t('login.username_missing') });
    if (!password) missing.push({ path: 'login.password', message: t('login.password_missing') });
    setErrors(missing);
    setMessage(null);
    if (missing.length) return;
    setBusy(true);
    try {
      await api.login(username.trim(), password);
      setPassword('');
      await onSignedIn();
    } catch (err) {
      setMessage(err.status === 401 ? t('login.wrong') : problemText(err));
    } finally {
      setBusy(false);
    }
  };
  const err = (p) => errors.find((x) => x.path === p)?.message;
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
    <${ErrorSummary} errors=${errors} />
    ${message ? html`<div class="notice notice-error" role="alert" data-testid="login-error">${message}</div>` : null}
    <form onSubmit=${submit} novalidate>
      <${Field} path="login.username" label=${t('login.username')} value=${username} onInput=${setUsername}
        error=${err('login.username')} autocomplete="username" autocapitalize="none" spellcheck="false" dir="ltr" required />
      <${Field} path="login.password" kind="password" label=${t('login.password')} value=${password} onInput=${setPassword}
        error=${err('login.password')} autocomplete="current-password" required />
      <button class="button" type="submit" disabled=${busy} data-testid="login-submit">${t('login.submit')}</button>
    </form>
  </div>`;
}
