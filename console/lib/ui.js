// Shared building blocks: the view library binding, form fields with their errors, the
// error summary, status badges, dialogs, announcements and small helpers. No string from the
// API is ever inserted as HTML: Preact writes text nodes.

import { h, render } from '../vendor/preact.mjs';
import { useEffect, useRef, useState } from '../vendor/hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { h, render, useEffect, useRef, useState };

import { t } from '../i18n.js';

/** The id of the input for a field path such as `members.0.full_name`. */
/**
 * Alt+letter shortcuts by physical key (so they work with an Urdu layout too). The listener
 * is added once and always calls the handler of the latest render: an effect re-added after
 * each paint would let a fast Alt+S act on the form as it was one keystroke earlier.
 */
export function useAltKey(handler) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const onKey = (e) => {
      const k = /^Key([A-Z])$/.exec(e.code);
      if (e.altKey && !e.ctrlKey && !e.metaKey && k && latest.current(k[1].toLowerCase()) !== false) e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

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

const ICONS = {
  eligible: 'M5 12l4 4 10-10',
  not_eligible: 'M6 6l12 12M18 6L6 18',
  undetermined: 'M12 7v6M12 16v1',
};

/** A status shown by word, icon and colour (never colour alone). */
export function Status({ status, label }) {
  const d = ICONS[status] || 'M6 12h12';
  return html`<span class=${`status status-${status}`}>
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d=${d} /></svg>
    ${label}
  </span>`;
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

/** Problem+json field errors as `{path, message}`, in the order of `order` when given. */
export function fieldErrors(problem, labelOf) {
  return (problem?.errors || []).map((e) => ({
    path: String(e.field || '').replace(/\[(\d+)\]/g, '.$1').replace(/^\//, '').replace(/\//g, '.'),
    message: e.message,
    code: e.code,
    label: labelOf ? labelOf(e.field) : '',
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
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
    <table>
      <caption class="visually-hidden">${caption}</caption>
      <thead><tr>${head.map((c, i) => html`<th scope="col" class=${numeric.includes(i) ? 'num' : ''}>${c}</th>`)}</tr></thead>
      <tbody>
        ${rows.map((r) => html`<tr>${r.map((c, i) => html`<td class=${numeric.includes(i) ? 'num' : ''} data-label=${head[i]}>${c}</td>`)}</tr>`)}
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
