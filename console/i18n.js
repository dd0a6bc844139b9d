// Languages: English and Urdu catalogues with the same keys (a test checks), the page's
// direction, and helpers for text that must keep its own direction (ID numbers, phones,
// dates, household numbers inside Urdu text), for digits typed in Urdu and for dates.

import { html } from './lib/ui.js';

const STORE = 'sahulat.lang';
export const LANGS = ['en', 'ur'];
export const catalogues = {};
let current = 'en';
const listeners = new Set();

// Each language's catalogue is split by area so that pages can be worked on apart; the
// parts are merged here (a test checks both languages have the same keys in each part and
// that no key is in two parts).
export const PARTS = ['core', 'clerk', 'roles', 'reports'];

export async function loadCatalogues() {
  await Promise.all(
    LANGS.map(async (l) => {
      const parts = await Promise.all(
        PARTS.map((p) => fetch(`/console/i18n/${l}/${p}.json`, { credentials: 'omit' }).then((r) => r.json())),
      );
      catalogues[l] = Object.assign({}, ...parts);
    }),
  );
  const asked = new URLSearchParams(location.search).get('lang');
  let saved = null;
  try {
    saved = localStorage.getItem(STORE);
  } catch {
    // storage may be disabled; the language is then chosen per visit
  }
  setLang(LANGS.includes(asked) ? asked : LANGS.includes(saved) ? saved : 'en');
}

export function lang() {
  return current;
}

/** Switches the language; nothing typed is lost (pages keep their state, only text changes). */
export function setLang(l) {
  current = l;
  document.documentElement.lang = l;
  document.documentElement.dir = l === 'ur' ? 'rtl' : 'ltr';
  try {
    localStorage.setItem(STORE, l);
  } catch {
    // see above
  }
  const url = new URL(location.href);
  if (url.searchParams.get('lang') !== l) {
    url.searchParams.set('lang', l);
    history.replaceState(history.state, '', url);
  }
  for (const fn of listeners) fn(l);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The text of `key` in the current language, with `{name}` placeholders filled. */
export const t = (key, params) => tIn(current, key, params);

// Values put into a sentence are isolated (FSI … PDI): a household number or a count keeps
// its own order inside Urdu text.
function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, k) => {
    const v = (params[k] ?? '').toString();
    return v === '' ? '' : `\u2068${v}\u2069`;
  });
}

/** The text of `key`, or `fallback` when the catalogues lack it. */
export function tOr(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

/** The text of `key` in a given language (the bilingual slip shows both at once). */
export function tIn(l, key, params) {
  const text = catalogues[l]?.[key] ?? catalogues.en?.[key] ?? key;
  return params ? fill(text, params) : text;
}

/** The label of a coded value, e.g. enumLabel('sex', 'female'). */
export function enumLabel(field, value) {
  if (value === null || value === undefined || value === '') return t('value.unknown');
  return tOr(`enum.${field}.${value}`, String(value));
}

/** A value that reads left to right whatever the page direction (isolated). */
export function ltr(value) {
  if (value === null || value === undefined || value === '') return '';
  return html`<bdi dir="ltr" class="ltr">${String(value)}</bdi>`;
}

/** Urdu (U+06F0–06F9) and Arabic-Indic (U+0660–0669) digits as ASCII. */
export function asciiDigits(s) {
  return String(s).replace(/[\u06F0-\u06F9\u0660-\u0669]/g, (c) => {
    const code = c.charCodeAt(0);
    return String(code >= 0x06f0 ? code - 0x06f0 : code - 0x0660);
  });
}

/** At most `max` digits as typed (in any script), with a dash after each of the first `cuts` digits once more follow. */
export function mask(raw, max, cuts) {
  const d = asciiDigits(raw).replace(/\D/g, '').slice(0, max);
  return cuts.reduceRight((s, at) => (s.length > at ? `${s.slice(0, at)}-${s.slice(at)}` : s), d);
}

/** DD-MM-YYYY as typed → shown text. */
export const maskDate = (raw) => mask(raw, 8, [2, 4]);

/** DD-MM-YYYY → YYYY-MM-DD (or the text as typed, for the server to refuse clearly). */
export function dateToIso(text) {
  const m = /^(\d{2})-(\d{2})-(\d{4})$/.exec(text || '');
  return m ? `${m[3]}-${m[2]}-${m[1]}` : text;
}

/** YYYY-MM-DD → DD-MM-YYYY. */
export function isoToDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '');
  return m ? `${m[3]}-${m[2]}-${m[1]}` : '';
}

/** A date `YYYY-MM-DD` shown as DD-MM-YYYY, isolated left to right. */
export const showDate = (iso) => (iso ? ltr(isoToDate(iso)) : '');

/** A timestamp (RFC 3339) shown in Pakistan time, isolated left to right. */
export function showTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ltr(ts);
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Karachi',
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return ltr(`${p.day}-${p.month}-${p.year} ${p.hour}:${p.minute}`);
}

/** A text from the rule files: `{en, ur}` or a plain string. */
export function local(text) {
  if (text === null || text === undefined) return '';
  if (typeof text === 'string') return text;
  return text[current] || text.en || '';
}
