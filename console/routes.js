// The hash routes: every page has a deep link (`#/households/{id}`, `#/referrals/{id}`,
// `#/schemes/{id}`, …). A route names its page and the navigation section it belongs to.

const table = [
  // [pattern, name, section (the name when left out)]
  [/^\/search$/, 'search'],
  [/^\/households\/new$/, 'register'],
  [/^\/households\/([^/]+)$/, 'household', 'search'],
  [/^\/households\/([^/]+)\/edit$/, 'editHousehold', 'search'],
  [/^\/households\/([^/]+)\/members\/new$/, 'member', 'search'],
  [/^\/households\/([^/]+)\/members\/([^/]+)$/, 'member', 'search'],
  [/^\/households\/([^/]+)\/screening$/, 'screening', 'search'],
  [/^\/referrals\/([^/]+)$/, 'referral'],
  [/^\/referrals\/([^/]+)\/slip$/, 'slip', 'referral'],
  [/^\/inbox$/, 'inbox'],
  [/^\/schemes$/, 'schemes'],
  [/^\/schemes\/([^/]+)$/, 'scheme', 'schemes'],
  [/^\/log$/, 'log'],
  [/^\/audit$/, 'audit'],
  [/^\/reports$/, 'reports'],
  [/^\/admin\/users$/, 'users'],
  [/^\/admin\/users\/([^/]+)$/, 'user', 'users'],
  [/^\/admin\/districts$/, 'districts'],
  [/^\/admin\/rules$/, 'rules'],
  [/^\/account$/, 'account'],
  [/^\/rule-(changes|versions|activations)(?:\/([^/]+))?$/, 'changes'],
];

// Pages load when first visited, so each role's browser fetches only its own pages.
const page = (file, name) => () => import(`./pages/${file}.js`).then((m) => m[name]);

export const routes = {
  search: page('search', 'SearchPage'),
  register: page('register', 'RegisterPage'),
  household: page('household', 'HouseholdPage'),
  editHousehold: page('edit-household', 'EditHouseholdPage'),
  member: page('member', 'MemberPage'),
  screening: page('screening', 'ScreeningPage'),
  referral: page('referral', 'ReferralPage'),
  slip: page('slip', 'SlipPage'),
  inbox: page('inbox', 'InboxPage'),
  schemes: page('schemes', 'SchemesPage'),
  scheme: page('schemes', 'SchemePage'),
  log: page('log', 'LogPage'),
  audit: page('audit', 'AuditPage'),
  reports: page('reports', 'ReportsPage'),
  users: page('admin-users', 'UsersPage'),
  user: page('admin-users', 'UserPage'),
  districts: page('admin-districts', 'DistrictsPage'),
  rules: page('admin-rules', 'RulesPage'),
  account: page('account', 'AccountPage'),
  changes: page('rule-changes', 'RuleChangesPage'),
  notFound: page('not-found', 'NotFoundPage'),
};

/** `#/households/abc/edit?focus=phone` → {name, params: ['abc'], query, section, key}. */
export function parseRoute(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(qs));
  for (const [re, name, section = name] of table) {
    const m = path.match(re);
    if (m) return { name, params: m.slice(1).map((x) => decodeURIComponent(x || '')), query, section, key: path };
  }
  return { name: path === '/' ? 'home' : 'notFound', params: [], query, section: null, key: path };
}
