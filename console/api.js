// The only module that talks HTTP. It holds the access token in this closure (never in
// localStorage or sessionStorage), adds Authorization, If-Match and Idempotency-Key, and
// turns problem+json answers into ApiProblem errors the pages can map onto their inputs.

let token = null;
let expiresAt = 0;
let reauthenticate = null; // set by the app: () => Promise<void>, shows the re-login dialog
let pending = null; // the one re-login every request refused meanwhile waits for

/** Signing in again, shared by every request that met a 401 while it is under way. */
function reauth() {
  if (!pending) pending = Promise.resolve(reauthenticate()).finally(() => (pending = null));
  return pending;
}

/** An answer that is not 2xx, with the problem's fields. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

/** The network failed (no answer at all): the same request may be sent again. */
export class NetworkError extends Error {}

export function signedIn() {
  return token !== null;
}

/** Seconds left on the token (0 when signed out). */
export function secondsLeft() {
  return token ? Math.max(0, Math.round((expiresAt - Date.now()) / 1000)) : 0;
}

export function setReauthenticate(fn) {
  reauthenticate = fn;
}

/** A random key for Idempotency-Key (crypto.randomUUID needs a secure context). */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function login(username, password) {
  const res = await send('POST', '/api/v1/auth/login', { body: { username, password }, anonymous: true });
  token = res.data.access_token;
  expiresAt = Date.now() + res.data.expires_in * 1000;
  return res.data;
}

export function logout() {
  token = null;
  expiresAt = 0;
}

export function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Sends one request. Options: body (JSON), query, ifMatch (a version number or ETag),
 * key (Idempotency-Key; POSTs get a fresh one unless given; given by the caller for an
 * endpoint that stores keys, it also lets a POST be resent once when the connection drops),
 * raw (return the Response). On 401 the re-login dialog is shown (once for every request
 * waiting) and the request is sent again, with the same Idempotency-Key.
 */
export async function send(method, path, opts = {}) {
  const key = method === 'POST' && !opts.anonymous ? opts.key || newKey() : null;
  let reauthenticated = false;
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: 'application/json, application/problem+json' };
    const sent = token;
    if (!opts.anonymous && token) headers.Authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.ifMatch !== undefined) {
      headers['If-Match'] = typeof opts.ifMatch === 'number' ? `"v${opts.ifMatch}"` : opts.ifMatch;
    }
    if (key) headers['Idempotency-Key'] = key;
    let res;
    try {
      res = await fetch(path + query(opts.query), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (e) {
      // A connection the server had just closed (keep-alive) fails at once: a GET, or a POST
      // with its Idempotency-Key, is safe to send once more; anything else is the caller's.
      if (attempt === 0 && (method === 'GET' || opts.key)) continue;
      throw new NetworkError(String(e));
    }
    if (res.status === 401 && !opts.anonymous && reauthenticate && !reauthenticated) {
      reauthenticated = true;
      // Refused with a token already replaced by a new sign-in: just send it again.
      if (token && token !== sent) continue;
      token = null;
      await reauth();
      continue;
    }
    if (opts.raw && res.ok) return res;
    const type = res.headers.get('content-type') || '';
    const data = type.includes('json') ? await res.json().catch(() => ({})) : await res.text();
    if (!res.ok) throw new ApiProblem(res.status, typeof data === 'object' ? data : { detail: data });
    return { status: res.status, data, etag: res.headers.get('etag'), key };
  }
}

export const get = (path, q) => send('GET', path, { query: q }).then((r) => r.data);
export const post = (path, body, opts = {}) => send('POST', path, { ...opts, body });
export const patch = (path, body, ifMatch) => send('PATCH', path, { body, ifMatch });

/** Every page of a list endpoint, up to `max` items (for small lists: districts, schemes). */
export async function all(path, q = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...q, limit: 100, cursor });
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** Downloads a file answer (CSV export) with the bearer token and saves it. */
export async function download(path, q, filename) {
  const res = await send('GET', path, { query: q, raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return blob.size;
}
