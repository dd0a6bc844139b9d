// The hash routes: every page has a deep link (`#/households/{id}`, `#/referrals/{id}`,
// `#/schemes/{id}`, …). A route names its page and the navigation section it belongs to.

import { NotFoundPage } from './pages/not-found.js';
import { SearchPage } from './pages/search.js';
import { HouseholdPage } from './pages/household.js';
import { RegisterPage } from './pages/register.js';
import { EditHouseholdPage } from './pages/edit-household.js';
import { MemberPage } from './pages/member.js';
import { ScreeningPage } from './pages/screening.js';
import { ReferralPage } from './pages/referral.js';
import { SlipPage } from './pages/slip.js';
import { InboxPage } from './pages/inbox.js';
import { SchemesPage, SchemePage } from './pages/schemes.js';
import { LogPage } from './pages/log.js';
import { AuditPage } from './pages/audit.js';
import { UsersPage, UserPage } from './pages/admin-users.js';
import { DistrictsPage } from './pages/admin-districts.js';
import { RulesPage } from './pages/admin-rules.js';
import { AccountPage } from './pages/account.js';

const table = [
  // [pattern, name, section]
  [/^\/search$/, 'search', 'search'],
  [/^\/households\/new$/, 'register', 'register'],
  [/^\/households\/([^/]+)$/, 'household', 'search'],
  [/^\/households\/([^/]+)\/edit$/, 'editHousehold', 'search'],
  [/^\/households\/([^/]+)\/members\/new$/, 'member', 'search'],
  [/^\/households\/([^/]+)\/members\/([^/]+)$/, 'member', 'search'],
  [/^\/households\/([^/]+)\/screening$/, 'screening', 'search'],
  [/^\/referrals\/([^/]+)$/, 'referral', 'referral'],
  [/^\/referrals\/([^/]+)\/slip$/, 'slip', 'referral'],
  [/^\/inbox$/, 'inbox', 'inbox'],
  [/^\/schemes$/, 'schemes', 'schemes'],
  [/^\/schemes\/([^/]+)$/, 'scheme', 'schemes'],
  [/^\/log$/, 'log', 'log'],
  [/^\/audit$/, 'audit', 'audit'],
  [/^\/admin\/users$/, 'users', 'users'],
  [/^\/admin\/users\/([^/]+)$/, 'user', 'users'],
  [/^\/admin\/districts$/, 'districts', 'districts'],
  [/^\/admin\/rules$/, 'rules', 'rules'],
  [/^\/account$/, 'account', 'account'],
];

export const routes = {
  search: SearchPage,
  register: RegisterPage,
  household: HouseholdPage,
  editHousehold: EditHouseholdPage,
  member: MemberPage,
  screening: ScreeningPage,
  referral: ReferralPage,
  slip: SlipPage,
  inbox: InboxPage,
  schemes: SchemesPage,
  scheme: SchemePage,
  log: LogPage,
  audit: AuditPage,
  users: UsersPage,
  user: UserPage,
  districts: DistrictsPage,
  rules: RulesPage,
  account: AccountPage,
  notFound: NotFoundPage,
};

/** `#/households/abc/edit?focus=phone` → {name, params: ['abc'], query, section, key}. */
export function parseRoute(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(qs));
  for (const [re, name, section] of table) {
    const m = path.match(re);
    if (m) return { name, params: m.slice(1).map(decodeURIComponent), query, section, key: path };
  }
  return { name: path === '/' ? 'home' : 'notFound', params: [], query, section: null, key: path };
}
