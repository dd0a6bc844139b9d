// The console's shell: catalogues, sign-in, the re-login dialog, navigation by role, the
// language switch, keyboard shortcuts and the hash router. Pages live in pages/.

import * as api from './api.js';
import { lang, loadCatalogues, onLangChange, setLang, t } from './i18n.js';
import { Dialog, Field, Toasts, html, render, useEffect, useKeys, useLoad, useRef, useState, waiting } from './lib/ui.js';
import { claimDrafts, clearDrafts } from './lib/drafts.js';
import { useForm } from './lib/listing.js';
import { can, home, session, setSession } from './lib/session.js';
import { parseRoute, routes } from './routes.js';
import { LoginPage } from './pages/login.js';


function useHashRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return parseRoute(hash);
}

/** A page module, fetched on first use (a failed fetch offers a retry). */
function LazyPage({ load, route }) {
  const state = useLoad(() => load().catch(() => Promise.reject(new api.NetworkError())), [load]);
  const Page = state[0];
  return Page ? html`<${Page} route=${route} />` : waiting(state);
}

/** Navigation: only what the role may do. */
function Nav({ route }) {
  const items = [
    ['search', '#/search', 'household_search'],
    ['register', '#/households/new', 'household_create'],
    ['inbox', '#/inbox', 'scheme_households'],
    ['schemes', '#/schemes', 'scheme_list'],
    ['log', '#/log', 'audit_read'],
    ['audit', '#/audit', 'audit_read'],
    ['reports', '#/reports', 'report_read'],
    ['users', '#/admin/users', 'user_list'],
    ['districts', '#/admin/districts', 'district_manage'],
    ['rules', '#/admin/rules', 'rules_reload'],
    ['changes', '#/rule-changes', 'rule_change_read'],
  ].filter(([, , action]) => can(action));
  return html`<nav aria-label=${t('nav.label')} class="nav">
    <ul>
      ${items.map(
        ([key, href]) => html`<li><a href=${href} aria-current=${route.section === key ? 'page' : undefined}>${t(`nav.${key}`)}</a></li>`,
      )}
    </ul>
  </nav>`;
}

function LangSwitch() {
  const other = lang() === 'en' ? 'ur' : 'en';
  return html`<button type="button" class="link-button lang-switch" data-testid="lang-switch" lang=${other}
    onClick=${() => setLang(other)}>${other === 'ur' ? 'اردو' : 'English'}</button>`;
}

function Header({ route, onLogout }) {
  return html`<header class="top">
    <a class="skip-link" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.getElementById('main')?.focus();
    }}>${t('app.skip')}</a>
    <div class="brand"><span class="brand-name">${t('app.name')}</span><span class="brand-sub">${t('app.tagline')}</span></div>
    ${session() ? html`<${Nav} route=${route} />` : null}
    <div class="top-actions">
      <${LangSwitch} />
      ${session()
        ? html`<a class="whoami" href="#/account" data-testid="account"><bdi>${session().username}</bdi> · ${t(`role.${session().role}`)}</a>
            <button type="button" class="link-button" data-testid="logout" onClick=${onLogout}>${t('nav.logout')}</button>`
        : null}
    </div>
  </header>`;
}

/** The dialog shown when the token expired: signing in again keeps every form as it was. */
function ReloginDialog({ pending, onDone, onSignOut }) {
  const f = useForm({ password: '' });
  const submit = (e) => {
    e.preventDefault();
    f.run(
      async () => {
        await api.login(session().username, f.form.password);
        f.setForm({ password: '' });
        f.setErrors([]);
        onDone();
      },
      (err) => [{ path: 'relogin.password', message: t(err.status === 401 ? 'login.wrong' : err.status === 429 ? 'error.too_many' : 'error.network') }],
    );
  };
  return html`<${Dialog} id="relogin" open=${pending} locked title=${t('relogin.title')}>
    <p>${t('relogin.body')}</p>
    <form onSubmit=${submit} novalidate>
      <p><strong>${t('login.username')}:</strong> <bdi>${session()?.username}</bdi></p>
      <${Field} path="relogin.password" kind="password" label=${t('login.password')} value=${f.form.password}
        onInput=${f.set('password')} error=${f.err('relogin.password')} autocomplete="current-password" required />
      <button class="button" type="submit" disabled=${f.busy}>${t('login.submit')}</button>
      <button class="button secondary" type="button" data-testid="relogin-sign-out" onClick=${onSignOut}>${t('relogin.sign_out')}</button>
    </form>
  </${Dialog}>`;
}

/** Before the token runs out, a warning with a way to sign in again at once (WCAG 2.2.1). */
function ExpiryWarning({ onExtend }) {
  const [left, setLeft] = useState(api.secondsLeft());
  useEffect(() => {
    const timer = setInterval(() => setLeft(api.secondsLeft()), 15000);
    return () => clearInterval(timer);
  }, []);
  if (!api.signedIn() || left > 120) return null;
  return html`<div class="notice notice-warn no-print" role="alert" data-testid="expiry-warning">
    <p>${t('session.ending', { n: Math.max(1, Math.ceil(left / 60)) })}</p>
    <button type="button" class="button secondary" onClick=${onExtend}>${t('session.extend')}</button>
  </div>`;
}

function App() {
  const route = useHashRoute();
  const [, setLangTick] = useState(0);
  const [user, setUser] = useState(null);
  const [relogin, setRelogin] = useState(false);
  const resolver = useRef(null);

  useEffect(() => onLangChange(() => setLangTick((n) => n + 1)), []);
  useEffect(() => {
    api.setReauthenticate(
      () =>
        new Promise((resolve, reject) => {
          if (!session()) return resolve();
          resolver.current = { resolve, reject };
          setRelogin(true);
        }),
    );
  }, []);
  useKeys((e) => {
    if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '') && can('household_search')) {
      e.preventDefault();
      if (!location.hash.startsWith('#/search')) location.hash = '#/search';
      setTimeout(() => document.getElementById('f-q')?.focus(), 0);
    }
  });

  const signedIn = async () => {
    const account = await api.get('/api/v1/auth/me');
    // Another account's drafts (a colleague's tab, reloaded) are not this one's to see.
    claimDrafts(account.username);
    setSession(account);
    setUser(account);
    if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = home();
  };
  const logout = () => {
    api.logout();
    clearDrafts();
    setSession(null);
    setUser(null);
    location.hash = '#/';
  };

  let body;
  if (!user) {
    body = html`<${LoginPage} onSignedIn=${signedIn} />`;
  } else {
    if (route.name === 'home') {
      location.replace(`${location.pathname}${location.search}${home()}`);
      return null;
    }
    body = html`<${LazyPage} key=${route.key} load=${routes[route.name] || routes.notFound} route=${route} />`;
  }
  return html`
    <${Header} route=${route} onLogout=${logout} />
    <main id="main" tabindex="-1" class=${`page page-${route.name}`}>
      ${user ? html`<${ExpiryWarning} onExtend=${() => setRelogin(true)} />` : null}
      ${body}
    </main>
    <${Toasts} />
    ${user
      ? html`<${ReloginDialog} pending=${relogin}
          onDone=${() => {
            setRelogin(false);
            resolver.current?.resolve();
            resolver.current = null;
          }}
          onSignOut=${() => {
            setRelogin(false);
            resolver.current?.reject(new Error('signed out'));
            resolver.current = null;
            logout();
          }} />`
      : null}
  `;
}

try {
  await loadCatalogues();
  render(html`<${App} />`, document.getElementById('app'));
} catch {
  // Without its words the console cannot speak; say so in both languages, as plain text.
  const p = document.createElement('p');
  p.textContent = 'The console could not load. Check the connection and reload the page. / کنسول لوڈ نہیں ہو سکا۔ رابطہ جانچ کر صفحہ دوبارہ لوڈ کریں۔';
  document.getElementById('app').replaceChildren(p);
}
