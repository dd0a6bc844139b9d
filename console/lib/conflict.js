// Optimistic concurrency in the forms: a change is sent as a merge patch of the fields the
// clerk changed, with If-Match. On 412 the clerk sees, field by field, the value when they
// opened the form, the value now (someone else's change) and their own, and can re-apply
// their edit to the new version with one action.

import { ltr, t } from '../i18n.js';
import { fromInput, toInput } from './fields.js';
import { ErrorSummary, announce, fieldErrors, html, problemText, useAltKey, useEffect, useState } from './ui.js';
import { dropDraft, loadDraft, saveDraft } from './drafts.js';
import { inFormOrder, showValue } from './forms.js';

/** The form texts of a stored record for the given field definitions. */
export function textsOf(record, fields) {
  return Object.fromEntries(fields.map((f) => [f.name, toInput(f, record[f.name])]));
}

/** The merge patch: fields whose API value differs from the value when the form opened. */
export function changedFields(base, mine, fields) {
  const patch = {};
  for (const f of fields) {
    const before = fromInput(f, base[f.name]);
    const after = fromInput(f, mine[f.name]);
    if (JSON.stringify(before) !== JSON.stringify(after)) patch[f.name] = after;
  }
  return patch;
}

/**
 * The 412 screen. `base`: texts when opened; `theirs`: the record now (API values);
 * `patch`: the clerk's changes (API values).
 */
export function ConflictView({ fields, base, theirs, patch, version, onReapply, onDiscard, busy }) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const rows = fields.map((f) => [f, fromInput(f, base[f.name]), theirs[f.name] ?? null]).filter(([f, opened, now]) => f.name in patch || !same(opened, now));
  return html`<div class="notice notice-warn" role="alert" data-testid="conflict">
    <h2>${t('conflict.title')}</h2>
    <p>${t('conflict.body', { version: '' })}${ltr(version)}</p>
    <div class="table-wrap">
      <table class="diff">
        <caption class="visually-hidden">${t('conflict.caption')}</caption>
        <thead><tr>
          <th scope="col">${t('conflict.field')}</th>
          <th scope="col">${t('conflict.opened')}</th>
          <th scope="col">${t('conflict.now')}</th>
          <th scope="col">${t('conflict.yours')}</th>
        </tr></thead>
        <tbody>
          ${rows.map(([f, opened, now]) => {
            const theyChanged = !same(opened, now);
            const mine = f.name in patch ? patch[f.name] : now;
            return html`<tr>
              <th scope="row">${t(`field.${f.name}`)}</th>
              <td>${showValue(f, opened)}</td>
              <td class=${theyChanged ? 'changed' : ''}>${showValue(f, now)}${theyChanged ? html` <span class="visually-hidden">${t('conflict.changed')}</span>` : null}</td>
              <td class=${f.name in patch ? 'changed' : ''}>${showValue(f, mine)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    <p>${t('conflict.explain')}</p>
    <button type="button" class="button" data-testid="reapply" disabled=${busy} onClick=${onReapply}>${t('conflict.reapply')}</button>
    <button type="button" class="button secondary" data-testid="discard" onClick=${onDiscard}>${t('conflict.discard')}</button>
  </div>`;
}

/**
 * An edit form with optimistic concurrency: the texts when opened (`base`), the texts now,
 * the version being edited, a 412 conflict, and saving (also with Alt+S). `submit(body,
 * version)` sends; `current()` reads `{record, version}` again after a 412 (`record` null
 * when the change has no field to compare, e.g. a new member); `check(texts)` lists client
 * errors; `bodyOf(base, texts)` is the request body (default: the changed fields).
 */
export function useEditor({ fields, record, version: opened, draft, submit, current, check, saved, focus, bodyOf }) {
  const fresh = textsOf(record || {}, fields);
  const kept = draft ? loadDraft(draft) : null;
  // A draft survives a reload of the tab only for the version it was started on.
  const resume = kept && kept.version === opened;
  const [base, setBase] = useState(resume ? kept.base : fresh);
  const [texts, setTexts] = useState(resume ? kept.texts : fresh);
  const [version, setVersion] = useState(opened);
  const [errors, setErrors] = useState([]);
  const [conflict, setConflict] = useState(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState(null);

  useEffect(() => {
    if (draft) saveDraft(draft, { version, base, texts });
  }, [texts, version]);
  useEffect(() => {
    if (focus) setTimeout(() => document.getElementById(`f-${focus}`)?.focus(), 50);
  }, [focus]);

  const send = async (body, ifMatch) => {
    setBusy(true);
    setFailure(null);
    try {
      await submit(body, ifMatch);
      if (draft) dropDraft(draft);
      saved();
    } catch (err) {
      if (err.status === 412) {
        const now = await current();
        if (now.record) setConflict({ theirs: now.record, version: now.version, patch: body });
        else {
          setVersion(now.version);
          setFailure({ detail: t('member.version_moved') });
        }
      } else if (err.status === 422) {
        // A member's own endpoints may name fields as in a registration (`members[0].x`).
        setErrors(inFormOrder(fieldErrors(err).map((e) => ({ ...e, path: e.path.replace(/^members\.\d+\./, '') }))));
      } else if (err.status === 409 && err.detail) {
        setErrors(inFormOrder([{ path: String(err.problem?.field || '').replace(/^members\[\d+\]\./, ''), message: err.detail }]));
      } else {
        setFailure(err);
      }
    } finally {
      setBusy(false);
    }
  };
  const save = () => {
    const found = inFormOrder(check(texts));
    setErrors(found);
    if (found.length) return;
    const body = bodyOf ? bodyOf(base, texts) : changedFields(base, texts, fields);
    if (!Object.keys(body).length) return announce(t('edit.nothing'));
    send(body, version);
  };
  useAltKey((k) => {
    if (k !== 's') return false;
    if (!busy && !conflict) save();
  });
  const adopt = (record, v) => {
    const now = textsOf(record, fields);
    setBase(now);
    setVersion(v);
    setConflict(null);
    return now;
  };
  return {
    texts,
    setText: (name, v) => setTexts((x) => ({ ...x, [name]: v })),
    errors,
    busy,
    failure,
    version,
    save,
    conflictView: conflict
      ? html`<${ConflictView} fields=${fields} base=${base} theirs=${conflict.theirs} patch=${conflict.patch}
          version=${conflict.version} busy=${busy}
          onReapply=${() => {
            // The form now shows their record with only the clerk's own changes on top, so a
            // failed re-apply followed by Save can never put back what the other clerk changed.
            const mine = Object.fromEntries(Object.keys(conflict.patch).map((k) => [k, texts[k]]));
            setTexts({ ...adopt(conflict.theirs, conflict.version), ...mine });
            send(conflict.patch, conflict.version);
          }}
          onDiscard=${() => setTexts(adopt(conflict.theirs, conflict.version))} />`
      : null,
  };
}

/**
 * The frame of an edit page around its inputs: the 412 comparison, a failure, the error
 * summary, and the form with its save (Alt+S) and cancel actions.
 */
export function EditorForm({ editor, saveLabel, saveTestId, cancelHref, children }) {
  return html`
    ${editor.conflictView}
    ${editor.failure ? html`<div class="notice notice-error" role="alert">${problemText(editor.failure)}</div>` : null}
    <${ErrorSummary} errors=${editor.errors} />
    <form novalidate onSubmit=${(e) => {
      e.preventDefault();
      editor.save();
    }}>
      ${children}
      <div class="actions sticky-actions">
        <button type="submit" class="button" disabled=${editor.busy || !!editor.conflictView} data-testid=${saveTestId}>${saveLabel} <kbd>Alt+S</kbd></button>
        <a class="button secondary" href=${cancelHref}>${t('common.cancel')}</a>
      </div>
    </form>`;
}
