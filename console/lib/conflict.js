// Optimistic concurrency in the forms: a change is sent as a merge patch of the fields the
// clerk changed, with If-Match. On 412 the clerk sees, field by field, the value when they
// opened the form, the value now (someone else's change) and their own, and can re-apply
// their edit to the new version with one action.

import { enumLabel, ltr, t } from '../i18n.js';
import { fromInput, toInput } from './fields.js';
import { html } from './ui.js';

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

function show(f, value) {
  if (value === null || value === undefined) return html`<span class="empty">${t('value.unknown')}</span>`;
  if (f.kind === 'enum') return enumLabel(f.name, value);
  if (f.kind === 'bool') return value ? t('value.yes') : t('value.no');
  if (typeof value === 'number' || ['date', 'id', 'phone'].includes(f.kind)) return ltr(value);
  return html`<bdi>${value}</bdi>`;
}

/**
 * The 412 screen. `base`: texts when opened; `theirs`: the record now (API values);
 * `patch`: the clerk's changes (API values).
 */
export function ConflictView({ fields, base, theirs, patch, version, onReapply, onDiscard, busy }) {
  const rows = fields.filter((f) => {
    const opened = fromInput(f, base[f.name]);
    const now = theirs[f.name] ?? null;
    return f.name in patch || JSON.stringify(opened) !== JSON.stringify(now);
  });
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
          ${rows.map((f) => {
            const opened = fromInput(f, base[f.name]);
            const now = theirs[f.name] ?? null;
            const theyChanged = JSON.stringify(opened) !== JSON.stringify(now);
            const mine = f.name in patch ? patch[f.name] : now;
            return html`<tr>
              <th scope="row">${t(`field.${f.name}`)}</th>
              <td>${show(f, opened)}</td>
              <td class=${theyChanged ? 'changed' : ''}>${show(f, now)}${theyChanged ? html` <span class="visually-hidden">${t('conflict.changed')}</span>` : null}</td>
              <td class=${f.name in patch ? 'changed' : ''}>${show(f, mine)}</td>
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

export { toInput };
