// The registry's fields as the forms show them, by the API's JSON names; words from the
// catalogues (`field.<name>`, `enum.<name>.<value>`).

import { asciiDigits, dateToIso, isoToDate, mask } from '../i18n.js';

const ENUMS = {
  area_type: ['urban', 'rural'],
  house_ownership: ['owned', 'rented', 'rent_free'],
  relation_to_head: ['head', 'spouse', 'son', 'daughter', 'parent', 'sibling', 'grandchild', 'other_relative', 'unrelated'],
  sex: ['male', 'female', 'transgender'],
  id_type: ['cnic', 'b_form', 'none'],
  marital_status: ['never_married', 'married', 'widowed', 'divorced', 'separated'],
  religion: ['muslim', 'christian', 'hindu', 'sikh', 'other'],
  disability: ['none', 'physical', 'visual', 'hearing', 'speech', 'intellectual', 'psychosocial', 'multiple'],
  school_level: ['none', 'primary', 'secondary', 'higher_secondary', 'tertiary', 'madrasa'],
  employment: ['employed_formal', 'employed_informal', 'self_employed', 'unemployed', 'student', 'homemaker', 'retired', 'unable_to_work', 'child'],
  removal_reason: ['deceased', 'moved_out', 'married_out', 'data_error'],
  institution_type: ['government', 'private', 'madrasa', 'community'],
  pension_drawn: ['none', 'eobi', 'government', 'essi'],
};
export const enumValues = (name) => ENUMS[name] || [];

// kind: text | int | decimal | date | enum | bool (default) | id | phone | district;
// grp: the form's section.
const grp = (group, list) => list.map((f) => ({ kind: 'bool', ...f, group }));
export const HOUSEHOLD_FIELDS = [
  ...grp('location', [
    {name: 'district', kind: 'district', required: true}, {name: 'tehsil', kind: 'text', max: 100},
    {name: 'union_council', kind: 'text', max: 100}, {name: 'village', kind: 'text', max: 100},
    {name: 'address', kind: 'text', max: 500, dir: 'auto'}, {name: 'area_type', kind: 'enum'},
    {name: 'phone', kind: 'phone'},
  ]),
  ...grp('means', [
    {name: 'monthly_income_pkr', kind: 'int'}, {name: 'pmt_score', kind: 'decimal'},
    {name: 'land_acres', kind: 'decimal'}, {name: 'livestock_heads', kind: 'int'},
    {name: 'house_ownership', kind: 'enum'}, {name: 'rooms', kind: 'int'}, {name: 'owns_vehicle'},
    {name: 'owns_residential_plot'},
  ]),
];

export const MEMBER_FIELDS = [
  ...grp('identity', [
    {name: 'full_name', kind: 'text', required: true, max: 200, dir: 'auto'},
    {name: 'full_name_ur', kind: 'text', max: 200, dir: 'rtl', lang: 'ur'},
    {name: 'father_or_husband_name', kind: 'text', max: 200, dir: 'auto'},
    {name: 'relation_to_head', kind: 'enum', required: true}, {name: 'sex', kind: 'enum', required: true},
    {name: 'date_of_birth', kind: 'date', required: true}, {name: 'id_type', kind: 'enum', required: true},
    {name: 'id_number', kind: 'id'}, {name: 'marital_status', kind: 'enum'}, {name: 'religion', kind: 'enum'},
    {name: 'protection_need'}, {name: 'marriage_arranged'},
  ]),
  ...grp('health', [
    {name: 'disability', kind: 'enum'}, {name: 'disability_certificate'}, {name: 'chronic_illness'},
    {name: 'is_pregnant'}, {name: 'is_lactating'}, {name: 'is_orphan'}, {name: 'employment_injury'},
    {name: 'certified_unfit'}, {name: 'substance_use'},
  ]),
  ...grp('education', [
    {name: 'school_enrolled'}, {name: 'school_level', kind: 'enum'}, {name: 'attendance_pct', kind: 'int'},
    {name: 'institution_type', kind: 'enum'},
  ]),
  ...grp('work', [
    {name: 'employment', kind: 'enum'}, {name: 'monthly_income_pkr', kind: 'int'}, {name: 'govt_employee'},
    {name: 'taxpayer'}, {name: 'eobi_registered'}, {name: 'eobi_contribution_years', kind: 'int'},
    {name: 'essi_registered'}, {name: 'years_of_service', kind: 'int'}, {name: 'pension_drawn', kind: 'enum'},
  ]),
];

/** `#####-#######-#` as the clerk types. */
export const maskIdNumber = (raw) => mask(raw, 13, [5, 12]);

/** The form's text for a stored value (what an input shows), by field kind. */
export function toInput(field, value) {
  if (value === null || value === undefined) return field.kind === 'bool' ? null : '';
  if (field.kind === 'date') return isoToDate(value);
  if (field.kind === 'id') return maskIdNumber(value);
  if (field.kind === 'bool') return value;
  return String(value);
}

/** The API's value for a form text: trimmed, ASCII digits, numbers where they parse
 *  (else as typed: the server names the field), empty → null. */
export function fromInput(field, text) {
  if (field.kind === 'bool') return text === true || text === false ? text : null;
  if (text === null || text === undefined) return null;
  let s = String(text).trim();
  if (s === '') return null;
  if (['int', 'decimal', 'date', 'id', 'phone'].includes(field.kind)) s = asciiDigits(s);
  if (field.kind === 'int' && /^-?\d+$/.test(s)) return Number(s);
  if (field.kind === 'decimal' && /^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (field.kind === 'date') return dateToIso(s);
  return s;
}
