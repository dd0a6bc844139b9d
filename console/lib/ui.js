// Shared building blocks: the view library binding, form fields with their errors, the
// error summary, status badges, dialogs, announcements and small helpers. No string from the
// API is ever inserted as HTML: Preact writes text nodes.

import { h, render } from '../vendor/preact.mjs';
import { useEffect, useRef, useState } from '../vendor/hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { render, useEffect, useRef, useState };

import { t, tOr } from '../i18n.js';

/**
 * Keyboard shortcuts: the listener is added once and always calls the handler of the latest
 * render (an effect re-added after each paint would let a fast Alt+S act on the form as it
 * was one keystroke earlier).
 */
export function useKeys(handler) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const onKey = (e) => latest.current(e);
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

/** Alt+letter shortcuts by physical key (so they work with an Urdu layout too). */
export const useAltKey = (handler) =>
  useKeys((e) => {
    const k = /^Key([A-Z])$/.exec(e.code);
    if (e.altKey && !e.ctrlKey && !e.metaKey && k && handler(k[1].toLowerCase()) !== false) e.preventDefault();
  });

/** The id of the input for a field path such as `members.0.full_name`. */
export function inputId(path) {
  return `f-${String(path).replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/**
 * A labelled input with hint and error. `kind`: text, number, date, select, textarea,
 * password, bool (a three-way select: unknown, yes, no).
 */
export function Field(props) {
  const { path, label, hint, error, kind = 'text', value, onInput, required, options = [], dir, lang, ...rest } = props;
  const id = inputId(path);
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: path,
    'aria-invalid': error ? 'true' : undefined,
    'aria-describedby': describedBy,
    'aria-required': required ? 'true' : undefined,
    dir,
    lang,
    ...rest,
  };
  let input;
  if (kind === 'select' || kind === 'bool') {
    const opts = kind === 'bool' ? [['', t('value.unknown')], ['true', t('value.yes')], ['false', t('value.no')]] : options;
    const v = kind === 'bool' ? (value === true ? 'true' : value === false ? 'false' : '') : (value ?? '');
    input = html`<select ...${common} value=${v}
      onChange=${(e) => {
        const x = e.target.value;
        onInput(kind === 'bool' ? (x === '' ? null : x === 'true') : x === '' ? null : x);
      }}>
      ${opts.map(([val, text]) => html`<option value=${val} selected=${val === v}>${text}</option>`)}
    </select>`;
  } else if (kind === 'textarea') {
    input = html`<textarea ...${common} value=${value ?? ''} onInput=${(e) => onInput(e.target.value)}></textarea>`;
  } else {
    input = html`<input ...${common} type=${kind === 'password' ? 'password' : 'text'} value=${value ?? ''}
      onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<div class=${`field${error ? ' field-error' : ''}`}>
    <label for=${id}>${label}${required ? html` <span class="req" aria-hidden="true">*</span>` : null}</label>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="error-text" id=${`${id}-error`}><span class="visually-hidden">${t('error.prefix')} </span>${error}</p>` : null}
    ${input}
  </div>`;
}

/** The list of errors at the top of a form: links that move focus to each bad input. */
let summaries = 0;
export function ErrorSummary({ errors, title }) {
  const ref = useRef(null);
  const id = useRef(null);
  if (!id.current) id.current = `error-summary-${++summaries}`;
  useEffect(() => {
    if (errors.length && ref.current) ref.current.focus();
  }, [errors]);
  if (!errors.length) return null;
  return html`<div class="error-summary" role="alert" tabindex="-1" ref=${ref} aria-labelledby=${id.current}>
    <h2 id=${id.current}>${title || t('error.summary')}</h2>
    <ul>
      ${errors.map(
        (e) => html`<li><a href=${`#${inputId(e.path)}`} onClick=${(ev) => {
          ev.preventDefault();
          const el = document.getElementById(inputId(e.path));
          if (el) el.focus();
        }}>${e.label ? `${e.label}: ` : ''}${e.message}</a></li>`,
      )}
    </ul>
  </div>`;
}

const ICONS = { good: 'M5 12l4 4 10-10', bad: 'M6 6l12 12M18 6L6 18', warn: 'M12 7v6M12 16v1', neutral: 'M6 12h12' };
// Decisions' and referrals' statuses: good, under way, or ended without the benefit.
const KINDS = { eligible: 'good', enrolled: 'good', undetermined: 'warn', referred: 'warn', acknowledged: 'warn', not_eligible: 'bad', rejected: 'bad', expired: 'bad', withdrawn: 'bad' };

/** A state shown by word and icon (colour only adds to them): `kind` good, bad, warn or neutral. */
export function Mark({ kind, label, testid }) {
  return html`<span class=${`status mark-${kind}`} data-testid=${testid}>
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d=${ICONS[kind] || ICONS.neutral} /></svg>
    ${label}
  </span>`;
}

/** A decision's or referral's status by word, icon and colour (never colour alone). */
export const Status = ({ status, label }) => Mark({ kind: KINDS[status] || 'neutral', label });

/** A dialog around one small form: its error summary, `children` (the inputs), confirm and cancel. */
export function FormDialog({ id, open, title, onClose, onSubmit, errors, busy, confirm, danger, testid, children }) {
  return html`<${Dialog} id=${id} open=${open} onClose=${onClose} title=${title}>
    <form novalidate onSubmit=${(e) => {
      e.preventDefault();
      onSubmit();
    }}>
      <${ErrorSummary} errors=${errors} />
      ${children}
      <button type="submit" class=${danger ? 'button warning' : 'button'} disabled=${busy} data-testid=${testid}>${confirm}</button>
      <button type="button" class="button secondary" onClick=${onClose}>${t('common.cancel')}</button>
    </form>
  </${Dialog}>`;
}

/** A modal dialog (native <dialog>): focus moves in, Esc closes unless `locked`. */
export function Dialog({ open, title, onClose, locked, children, id }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} id=${id} aria-labelledby=${`${id}-title`}
    onClose=${() => {
      // A locked dialog that the browser closed anyway (a second Esc) opens again.
      if (locked && open && ref.current && !ref.current.open) ref.current.showModal();
    }}
    onCancel=${(e) => {
      if (locked) e.preventDefault();
      else onClose && onClose();
    }}>
    <h2 id=${`${id}-title`}>${title}</h2>
    ${open ? children : null}
  </dialog>`;
}

// A polite live region for toasts: screen readers announce every message.
let announceFn = () => {};
export function announce(message, kind = 'ok') {
  announceFn(message, kind);
}
export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    announceFn = (message, kind) => {
      const id = Math.random();
      setItems((xs) => [...xs.slice(-2), { id, message, kind }]);
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), 8000);
    };
  }, []);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${items.map((x) => html`<p class=${`toast toast-${x.kind}`} key=${x.id}>${x.message}</p>`)}
  </div>`;
}

/** Problem+json field errors as `{path, message, code}`: our words (`${words}.<code>`) where we have them, else the server's. */
export function fieldErrors(problem, words = 'err') {
  return (problem?.errors || []).map((e) => ({
    path: String(e.field || '').replace(/\[(\d+)\]/g, '.$1').replace(/^\//, '').replace(/\//g, '.'),
    message: tOr(`${words}.${e.code}`, e.message || e.code),
    code: e.code,
  }));
}

/** A short text for any error thrown by the API module. */
export function problemText(err) {
  if (!err) return '';
  if (err.name === 'NetworkError' || err.constructor?.name === 'NetworkError') return t('error.network');
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 404) return t('error.not_found');
  if (err.status === 429) return t('error.too_many');
  if (err.status >= 500) return t('error.server');
  return err.detail || err.title || err.message || String(err);
}

/** A table of rows with a caption; cells are nodes or text. */
export function Table({ caption, head, rows, numeric = [], empty }) {
  if (!rows.length) return html`<p class="empty">${empty || t('common.none')}</p>`;
  const num = (i) => (numeric.includes(i) ? 'num' : '');
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
    <table>
      <caption class="visually-hidden">${caption}</caption>
      <thead><tr>${head.map((c, i) => html`<th scope="col" class=${num(i)}>${c}</th>`)}</tr></thead>
      <tbody>
        ${rows.map((r) => html`<tr>${r.map((c, i) => html`<td class=${num(i)} data-label=${head[i]}>${c}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

/** Loads data once per `deps`: returns [data, error, reload]. */
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    fn().then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return [state.data, state.error, () => setN((x) => x + 1)];
}

/** What a page shows until its `useLoad` has the data: the failure with a retry, or "loading". */
export const waiting = ([, error, retry]) => (error ? html`<${LoadError} error=${error} retry=${retry} />` : html`<${Loading} />`);

/** A message for a failed load, with a retry. */
export function LoadError({ error, retry }) {
  return html`<div class="notice notice-error" role="alert">
    <p>${problemText(error)}</p>
    ${retry ? html`<button type="button" class="button secondary" onClick=${retry}>${t('common.retry')}</button>` : null}
  </div>`;
}

export function Loading() {
  return html`<p class="loading" role="status">${t('common.loading')}</p>`;
}

/** The page's heading; moves focus to it on navigation so screen readers hear the change. */
export function PageTitle({ children, sub }) {
  const ref = useRef(null);
  useEffect(() => {
    // The browser's history keeps titles: only a plain page name goes there, never a
    // household's number or a person's name.
    document.title = typeof children === 'string' ? `${children} — ${t('app.name')}` : t('app.name');
    if (ref.current && document.activeElement === document.body) ref.current.focus();
  });
  return html`<div class="page-title"><h1 tabindex="-1" ref=${ref}>${children}</h1>${sub ? html`<p class="lead">${sub}</p>` : null}</div>`;
}
