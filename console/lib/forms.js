// The registry's forms, shared by registration and editing: household fields, one member's
// fields, client checks that mirror the server's (the server stays the judge), and the
// mapping of a 422's field names onto inputs.

import * as api from '../api.js';
import { enumLabel, ltr, showDate, t } from '../i18n.js';
import { HOUSEHOLD_FIELDS, MEMBER_FIELDS, enumValues, fromInput, maskDate, maskIdNumber } from './fields.js';
import { session } from './session.js';
import { Field, announce, html, problemText, useEffect, useState } from './ui.js';

let districtsCache = null;
/** The active districts (codes and names) the signed-in clerk works in, loaded once. */
export function useDistricts() {
  const [list, setList] = useState(districtsCache || []);
  useEffect(() => {
    if (districtsCache) return;
    const mine = session()?.role === 'clerk' ? session().districts : null;
    api.get('/api/v1/districts').then(
      (items) => {
        districtsCache = (Array.isArray(items) ? items : items.items || []).filter(
          (d) => d.active !== false && (!mine || mine.includes(d.code)),
        );
        setList(districtsCache);
      },
      (err) => announce(problemText(err), 'error'),
    );
  }, []);
  return list;
}

function hintFor(field) {
  if (field.kind === 'date') return t('hint.date');
  if (field.kind === 'id') return t('hint.id_number');
  if (field.kind === 'phone') return t('hint.phone');
  const key = `hint.${field.name}`;
  const text = t(key);
  return text === key ? null : text;
}

/** One input for a field definition; `value` is the form text, `onInput` receives text. */
export function FieldInput({ field, prefix = '', value, onInput, error, districts, label }) {
  const path = `${prefix}${field.name}`;
  const common = { path, label: label || t(`field.${field.name}`), hint: hintFor(field), error, required: field.required };
  switch (field.kind) {
    case 'enum':
      return html`<${Field} ...${common} kind="select" value=${value} onInput=${onInput}
        options=${[['', field.required ? t('common.choose') : t('value.unknown')], ...enumValues(field.name).map((v) => [v, enumLabel(field.name, v)])]} />`;
    case 'district':
      return html`<${Field} ...${common} kind="select" value=${value} onInput=${onInput}
        options=${[['', t('common.choose')], ...(districts || []).map((d) => [d.code, d.name])]} />`;
    case 'bool':
      return html`<${Field} ...${common} kind="bool" value=${value} onInput=${onInput} />`;
    case 'date':
      return html`<${Field} ...${common} value=${value} onInput=${(v) => onInput(maskDate(v))}
        dir="ltr" inputmode="numeric" placeholder="DD-MM-YYYY" autocomplete="off" maxlength="10" />`;
    case 'id':
      return html`<${Field} ...${common} value=${value} onInput=${(v) => onInput(maskIdNumber(v))}
        dir="ltr" inputmode="numeric" placeholder="#####-#######-#" autocomplete="off" maxlength="15" />`;
    case 'phone':
      return html`<${Field} ...${common} value=${value} onInput=${onInput} dir="ltr" inputmode="tel" autocomplete="off" />`;
    case 'int':
    case 'decimal':
      return html`<${Field} ...${common} value=${value} onInput=${onInput} dir="ltr"
        inputmode=${field.kind === 'int' ? 'numeric' : 'decimal'} autocomplete="off" />`;
    default:
      return html`<${Field} ...${common} value=${value} onInput=${onInput} dir=${field.dir} lang=${field.lang}
        maxlength=${field.max} autocomplete="off" spellcheck="false" />`;
  }
}

/** Client checks of one field's text (the same rules the server applies first). */
export function checkField(field, text) {
  const empty = text === null || text === undefined || String(text).trim() === '';
  if (empty) return field.required ? t('check.required') : null;
  const v = fromInput(field, text);
  if (field.kind === 'int' && typeof v !== 'number') return t('check.whole_number');
  if (field.kind === 'decimal' && typeof v !== 'number') return t('check.number');
  if (field.kind === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(v)) return t('check.date');
  if (field.kind === 'id' && !/^\d{5}-\d{7}-\d$/.test(String(text))) return t('check.id_number');
  if (field.max && String(text).trim().length > field.max) return t('check.too_long', { max: field.max });
  return null;
}

/** The API body of a household's fields from the form's texts. */
export function householdBody(texts, fields = HOUSEHOLD_FIELDS) {
  const body = {};
  for (const f of fields) {
    const v = fromInput(f, texts[f.name]);
    if (v !== null) body[f.name] = v;
  }
  return body;
}

/** The API body of a member (unknown fields left out). */
export function memberBody(texts) {
  const body = {};
  for (const f of MEMBER_FIELDS) {
    const v = fromInput(f, texts[f.name]);
    if (v !== null) body[f.name] = v;
  }
  if (body.id_type === 'none') delete body.id_number;
  return body;
}

/** A 422's `errors` as `{path, message}` with the catalogue's words where it has them. */
export function serverErrors(problem) {
  return (problem?.errors || []).map((e) => {
    const path = String(e.field || '').replace(/\[(\d+)\]/g, '.$1');
    const known = t(`err.${e.code}`);
    const message = known === `err.${e.code}` ? e.message : known;
    return { path, message, code: e.code };
  });
}

/** The label of a field path (`members.2.sex` → "Member 3: Sex"). */
export function labelOf(path) {
  const m = /^members\.(\d+)\.(\w+)$/.exec(path);
  if (m) return `${t('member.n', { n: Number(m[1]) + 1 })}: ${t(`field.${m[2]}`)}`;
  return t(`field.${path}`);
}

/** The errors in the order of the form (household fields, then members in order). */
export function inFormOrder(errors) {
  const order = (p) => {
    const m = /^members\.(\d+)\.(\w+)$/.exec(p);
    if (m) return 1000 + Number(m[1]) * 100 + MEMBER_FIELDS.findIndex((f) => f.name === m[2]);
    return HOUSEHOLD_FIELDS.findIndex((f) => f.name === p);
  };
  return [...errors].sort((a, b) => order(a.path) - order(b.path)).map((e) => ({ ...e, label: e.label ?? labelOf(e.path) }));
}

const GROUPS = ['identity', 'health', 'education', 'work'];

/** A member's inputs: identity always shown, the rest in sections that open on demand (or when they hold an error). */
export function MemberFields({ prefix, texts, setText, errors, open }) {
  const err = (name) => errors.find((e) => e.path === `${prefix}${name}`)?.message;
  return GROUPS.map((g) => {
    const fields = MEMBER_FIELDS.filter((f) => f.group === g);
    const inputs = html`<div class="grid">
      ${fields
        .filter((f) => !(f.name === 'id_number' && texts.id_type === 'none'))
        .map((f) => html`<${FieldInput} field=${f} prefix=${prefix} value=${texts[f.name]} onInput=${(v) => setText(f.name, v)} error=${err(f.name)} />`)}
    </div>`;
    if (g === 'identity') return inputs;
    const hasError = fields.some((f) => err(f.name));
    const filled = fields.filter((f) => texts[f.name] !== undefined && texts[f.name] !== null && texts[f.name] !== '').length;
    return html`<details open=${open || hasError || undefined}>
      <summary>${t(`group.${g}`)}${filled ? ` (${filled})` : ''}</summary>
      ${inputs}
    </details>`;
  });
}

/** The household's inputs in two groups. */
export function HouseholdFields({ texts, setText, errors, districts, only }) {
  const err = (name) => errors.find((e) => e.path === name)?.message;
  return ['location', 'means'].map(
    (g) => html`<fieldset>
      <legend>${t(`group.${g}`)}</legend>
      <div class="grid">
        ${HOUSEHOLD_FIELDS.filter((f) => f.group === g && (!only || only.includes(f.name))).map(
          (f) => html`<${FieldInput} field=${f} value=${texts[f.name]} onInput=${(v) => setText(f.name, v)} error=${err(f.name)} districts=${districts} />`,
        )}
      </div>
    </fieldset>`,
  );
}

/** A stored (API) value as every page shows it: coded values in words, numbers isolated. */
export function showValue(field, value, districts) {
  if (value === null || value === undefined) return html`<span class="empty">${t('value.unknown')}</span>`;
  if (field.kind === 'enum') return enumLabel(field.name, value);
  if (field.kind === 'bool') return value ? t('value.yes') : t('value.no');
  if (field.kind === 'district') return districts?.find((d) => d.code === value)?.name || value;
  if (field.kind === 'date') return showDate(value);
  if (typeof value === 'number' || ['id', 'phone'].includes(field.kind)) return ltr(value);
  return html`<bdi>${value}</bdi>`;
}
