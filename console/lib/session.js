// The signed-in account (`GET /api/v1/auth/me` with its permitted actions), shared by the
// shell and the pages. The server checks every request; this only decides what to show.

let me = null;

export function session() {
  return me;
}

export function setSession(account) {
  me = account;
}

/** Whether the signed-in role may perform `action` (a name from the policy table). */
export function can(action) {
  return !!me && Array.isArray(me.permissions) && me.permissions.includes(action);
}

/** The start page of the signed-in role. */
export function home() {
  if (can('household_search')) return '#/search';
  if (can('scheme_households')) return '#/inbox';
  if (can('referral_log')) return '#/log';
  if (can('user_list')) return '#/admin/users';
  return '#/schemes';
}
