// The registry's forms, shared by registration and editing: household fields, one member's
// fields, client checks that mirror the server's (the server stays the judge), and the
// mapping of a 422's field names onto inputs.

import { enumLabel, ltr, showDate, t, tOr } from '../i18n.js';
import { HOUSEHOLD_FIELDS, MEMBER_FIELDS, enumValues, fromInput, maskIdNumber } from './fields.js';
import { DateField, districtList } from './listing.js';
import { session } from './session.js';
import { Field, announce, html, problemText, useEffect, useState } from './ui.js';

let districtsCache = null;
/** The active districts (codes and names) the signed-in clerk works in, loaded once. */
export function useDistricts() {
  const [list, setList] = useState(districtsCache || []);
  useEffect(() => {
    if (districtsCache) return;
    const mine = session()?.role === 'clerk' ? session().districts : null;
    districtList().then(
      (items) => setList((districtsCache = items.filter((d) => d.active !== false && (!mine || mine.includes(d.code))))),
      (err) => announce(problemText(err), 'error'),
    );
  }, []);
  return list;
}

const LTR = { dir: 'ltr', autocomplete: 'off' };
// What each kind of field adds to its text input (`mask`: applied as the clerk types).
const KINDS = {
  id: { ...LTR, inputmode: 'numeric', placeholder: '#####-#######-#', maxlength: '15', mask: maskIdNumber },
  phone: { ...LTR, inputmode: 'tel' },
  int: { ...LTR, inputmode: 'numeric' },
  decimal: { ...LTR, inputmode: 'decimal' },
  bool: { kind: 'bool' },
};

/** A coded field's values as select options `[value, words]`. */
export const enumOptions = (name) => enumValues(name).map((v) => [v, enumLabel(name, v)]);

/** One input for a field definition; `value` is the form text, `onInput` receives text. */
export function FieldInput({ field, prefix = '', value, onInput, error, districts, label }) {
  const { name, kind, required } = field;
  const props = { path: `${prefix}${name}`, label: label || t(`field.${name}`), hint: tOr(`hint.${name}`, null), error, required, value, onInput };
  if (kind === 'date') return html`<${DateField} ...${props} />`;
  const options = kind === 'enum' ? enumOptions(name) : kind === 'district' && (districts || []).map((d) => [d.code, d.name]);
  if (options) return html`<${Field} ...${props} kind="select" options=${[['', required ? t('common.choose') : t('value.unknown')], ...options]} />`;
  const { mask, ...attrs } = KINDS[kind] || { dir: field.dir, lang: field.lang, maxlength: field.max, autocomplete: 'off', spellcheck: 'false' };
  return html`<${Field} ...${props} ...${attrs} onInput=${mask ? (v) => onInput(mask(v)) : onInput} />`;
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

/** Client checks of the given fields' texts, as `{path: prefix + name, message}`. */
export const checkFields = (fields, texts, prefix = '') =>
  fields.map((f) => ({ path: prefix + f.name, message: checkField(f, texts[f.name]) })).filter((e) => e.message);

/** Client checks of one member: no number without a document, none needed with "none". */
export function checkMember(texts, prefix = '') {
  const none = texts.id_type === 'none';
  const needed = texts.id_type && !none && !texts.id_number;
  return checkFields(MEMBER_FIELDS.filter((f) => f.name !== 'id_number' || !none), texts, prefix).concat(
    needed ? [{ path: `${prefix}id_number`, message: t('check.id_needed') }] : [],
  );
}

/** The API body of the given fields (the household's by default) from the form's texts; unknown fields left out. */
export function householdBody(texts, fields = HOUSEHOLD_FIELDS) {
  const body = {};
  for (const f of fields) {
    const v = fromInput(f, texts[f.name]);
    if (v !== null) body[f.name] = v;
  }
  return body;
}

/** The API body of a member (no number with the document "none"). */
export function memberBody(texts) {
  const body = householdBody(texts, MEMBER_FIELDS);
  if (body.id_type === 'none') delete body.id_number;
  return body;
}

/** A member's field path (`members.2.sex`) as [path, index, field]. */
const memberPath = (path) => /^members\.(\d+)\.(\w+)$/.exec(path);

/** The label of a field path (`members.2.sex` → "Member 3: Sex"). */
export function labelOf(path) {
  const m = memberPath(path);
  if (m) return `${t('member.n', { n: Number(m[1]) + 1 })}: ${t(`field.${m[2]}`)}`;
  return t(`field.${path}`);
}

/** The errors in the order of the form (household fields, then members in order). */
export function inFormOrder(errors) {
  const order = (p) => {
    const m = memberPath(p);
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
