// What the rule-change pages (pages/rule-*.js) share. Their words (i18n/{en,ur}/changes.json)
// are fetched on first use, so other roles never load them.

import * as api from '../api.js';
import { LANGS, catalogues, ltr, t, tOr } from '../i18n.js';
import { dateOk, formErrors, schemeName } from './listing.js';
import { can, session } from './session.js';
import { Mark, html, problemText } from './ui.js';

let words = null;
export const loadWords = () =>
  (words ||= Promise.all(
    LANGS.map((l) =>
      fetch(`/console/i18n/${l}/changes.json`, { credentials: 'omit' })
        .then((r) => r.json())
        .then((w) => Object.assign(catalogues[l], w)),
    ),
  ).catch((e) => {
    words = null;
    throw new api.NetworkError(String(e));
  }));

export const mayPropose = () => can('rule_change_write');
export const mayFreeze = () => can('rule_freeze_manage');
export const enc = encodeURIComponent;
export const bdi = (x) => html`<bdi>${x}</bdi>`;
export const code = (x) => html`<code>${ltr(x)}</code>`;

// A scheme administrator chooses among their schemes, anyone else among all.
export const schemeOptions = (ref) =>
  (session()?.role === 'scheme_admin' ? session().schemes || [] : (ref?.schemes || []).map((s) => s.id)).map((id) => [id, schemeName(ref, id)]);
export const schemeNames = (ref, ids) => bdi(ids?.map((id) => schemeName(ref, id)).join(' · ') || '—');

const KIND = { proposed: 'warn', approved: 'good', active: 'good', rejected: 'bad', withdrawn: 'bad' };
export const StatusMark = ({ status, testid }) => html`<${Mark} kind=${KIND[status]} label=${tOr(`rc.status.${status}`, status)} testid=${testid} />`;

/** Marks the empty required and mistyped dates of `fields` (listing.js `Form`); true when none. */
export function valid(f, prefix, fields) {
  const bad = fields.flatMap(({ name, kind, required }) => {
    const v = String(f.form[name] ?? '').trim();
    const message = required && !v ? t('roles.code.required') : kind === 'date' && !dateOk(v) ? t('roles.bad_date') : null;
    return message ? [{ path: `${prefix}.${name}`, message }] : [];
  });
  f.setErrors(bad);
  return !bad.length;
}

/** A submit handler: checks `fields`, then `send`s. */
export const onValid = (f, prefix, fields, send, onError) => (e) => {
  e?.preventDefault();
  if (valid(f, prefix, fields)) f.run(send, onError || ((err) => refusal(err, `${prefix}.${fields[0].name}`)));
};

/** A refusal as form errors: a 422's fields (at `place(field)`; a rule mistake keeps its `file:line:column`), else the server's reason, at `path`. */
export const refusal = (err, path, place = (x) => `${path.split('.')[0]}.${x}`) =>
  err.status === 422 && err.errors.length
    ? formErrors(err, path, place).map((e, i) => {
        const field = err.errors[i].field;
        return { ...e, message: bdi(/:\d+:\d+$/.test(field) ? `${field}: ${e.message}` : e.message) };
      })
    : [{ path, label: '', message: bdi((err.status < 500 && err.detail) || problemText(err)) }];

// Rule text: left to right, fixed width, the page's width (CSSOM, allowed by the style policy).
export const CODE = { dir: 'ltr', lang: 'en', spellcheck: 'false', autocomplete: 'off', style: { maxInlineSize: 'none', fontFamily: 'monospace' } };

export function Changes({ changes, ref }) {
  const shown = changes?.filter((c) => c.items.length) || [];
  if (!shown.length) return html`<p class="empty">${t('rc.no_changes')}</p>`;
  return shown.map(
    (c) => html`<h3>${schemeName(ref, c.scheme)}: ${tOr(`rc.kind.${c.kind}`, c.kind)}</h3>
      <ul data-testid=${`changes-${c.scheme}`}>
        ${c.items.map(
          (i) => html`<li>${tOr(`rc.what.${i.what}`, i.what)} ${code(i.name)}${i.before == null ? '' : html`, ${t('rc.was')} ${code(i.before)}`}${i.after == null ? '' : html`, ${t('rc.now')} ${code(i.after)}`}</li>`,
        )}
      </ul>`,
  );
}

/** Unified diffs by file: added and removed lines marked by sign, colour and ins/del. */
export function TextDiff({ diffs }) {
  const files = Object.entries(diffs || {}).filter(([, text]) => text);
  if (!files.length) return html`<p class="empty">${t('rc.no_diff')}</p>`;
  return files.map(
    ([file, text]) => html`<h3>${code(file)}</h3>
      <pre class="rule" dir="ltr" lang="en" data-testid="text-diff">${text.split('\n').map((l) =>
        /^\+(?!\+\+)/.test(l) ? html`<ins class="mark-good">${`${l}\n`}</ins>` : /^-(?!--)/.test(l) ? html`<del class="mark-bad">${`${l}\n`}</del>` : `${l}\n`,
      )}</pre>`,
  );
}
